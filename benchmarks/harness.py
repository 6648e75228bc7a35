"""Timing harness: alternating rounds, per-round ratios, medians.

Each case is a dict of named callables (``ours``, ``torch``, ``hand``, ``pyro``);
one round times every callable once (a fixed number of inner calls each), in a
rotating order so drift in machine speed hits all peers alike; the reported
ratio is the median over rounds of ``time(ours) / time(peer)`` in that round.
"""

import statistics
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch

__all__ = ["Case", "Result", "measure", "run_cases", "format_table"]


@dataclass
class Case:
    """A benchmark case: a name, an area, and the peers to time side by side."""

    area: str
    name: str
    peers: dict
    note: str = ""
    # peer name -> a zero-argument factory of a context manager entered around
    # each timed batch of that peer's calls (a global setting such as validation
    # off, switched once per batch as a user switches it once per program, so
    # the switch itself is not timed).
    contexts: dict = field(default_factory=dict)


@dataclass
class Result:
    """Median per-call seconds per peer and median per-round ratios of ours to each peer."""

    case: Case
    seconds: dict
    ratios: dict = field(default_factory=dict)


def _calls_for(fn, budget=0.01, context=nullcontext):
    with context():
        start = time.perf_counter()
        fn()
        once = max(time.perf_counter() - start, 1e-7)
    return max(1, min(10_000, int(budget / once)))


def _time(fn, calls, context=nullcontext):
    with context():
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        return (time.perf_counter() - start) / calls


def measure(case, rounds=15, budget=0.01):
    """Times ``case.peers`` in alternating rounds and returns a :class:`Result`.

    A peer named in ``case.contexts`` runs its warm-up, calibration and each
    timed batch inside that context, entered outside the clock.
    """
    torch.set_num_threads(1)
    names = list(case.peers)
    contexts = {n: case.contexts.get(n, nullcontext) for n in names}
    for n, fn in case.peers.items():
        with contexts[n]():
            fn()  # warm up caches and lazy initialisation
    calls = {n: _calls_for(case.peers[n], budget, contexts[n]) for n in names}
    per_round = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for n in order:
            per_round[n].append(_time(case.peers[n], calls[n], contexts[n]))
    seconds = {n: statistics.median(v) for n, v in per_round.items()}
    ratios = {}
    if "ours" in per_round:
        for n in names:
            if n != "ours":
                ratios[n] = statistics.median(
                    a / b for a, b in zip(per_round["ours"], per_round[n])
                )
    return Result(case, seconds, ratios)


def run_cases(cases, rounds=15, budget=0.01, log=print):
    """Measures every case, logging one line each, and returns the results."""
    results = []
    for case in cases:
        result = measure(case, rounds=rounds, budget=budget)
        ratio_text = ", ".join(f"ours/{k} {v:.2f}" for k, v in result.ratios.items())
        log(f"[{case.area}] {case.name}: {result.seconds['ours'] * 1e6:.1f} us  {ratio_text}")
        results.append(result)
    return results


def _geomean(values):
    values = list(values)
    return statistics.geometric_mean(values) if values else float("nan")


def format_table(results, peers=("torch", "hand", "pyro")):
    """A markdown table: one row per case, ours in microseconds and ratios per peer."""
    header = "| case | ours (us) | " + " | ".join(f"ours/{p}" for p in peers) + " |"
    lines = [header, "|" + "---|" * (2 + len(peers))]
    for r in results:
        cells = [f"{r.ratios[p]:.2f}" if p in r.ratios else "-" for p in peers]
        lines.append(
            f"| {r.case.name} | {r.seconds['ours'] * 1e6:.1f} | " + " | ".join(cells) + " |"
        )
    geo = [
        f"{_geomean(r.ratios[p] for r in results if p in r.ratios):.2f}"
        if any(p in r.ratios for r in results)
        else "-"
        for p in peers
    ]
    lines.append("| **geometric mean** | | " + " | ".join(geo) + " |")
    return "\n".join(lines)
