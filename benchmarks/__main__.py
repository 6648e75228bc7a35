"""``python -m benchmarks``: run every benchmark module and write RESULTS.md.

Each ``bench_*.py`` module exposes ``cases()`` (timings, grouped by area into
one markdown table each and charted), ``tables()`` (measurements that are not
timings, such as gradient variances: ``[(title, markdown)]`` written after the
timing tables), or both. ``bench_numpyro.py`` is the exception: a script for a
jax interpreter, driven by ``benchmarks/numpyro_peer.py`` (the NumPyro section,
run with ``--only numpyro`` or a full run; skipped when NumPyro is not installed).
"""

import argparse
import importlib
import pathlib
import pkgutil

from benchmarks import numpyro_peer
from benchmarks.harness import format_table, run_cases

HERE = pathlib.Path(__file__).resolve().parent
# Run by another interpreter (jax), never imported here.
PEER_SCRIPTS = {"bench_numpyro"}


def _modules(only):
    for info in pkgutil.iter_modules([str(HERE)]):
        if info.name in PEER_SCRIPTS:
            continue
        if info.name.startswith("bench_") and (not only or only in info.name):
            yield importlib.import_module(f"benchmarks.{info.name}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="", help="run only modules whose name contains this")
    parser.add_argument("--rounds", type=int, default=15, help="alternating rounds per case")
    parser.add_argument("--output", default=str(HERE / "RESULTS.md"), help="markdown report path")
    parser.add_argument(
        "--draws", type=int, default=None, help="draws per estimate in non-timing tables"
    )
    args = parser.parse_args(argv)
    by_area, extra = {}, []
    for module in _modules(args.only):
        if hasattr(module, "cases"):
            for result in run_cases(module.cases(), rounds=args.rounds):
                by_area.setdefault(result.case.area, []).append(result)
        if hasattr(module, "tables"):
            extra += module.tables(draws=args.draws)
    if not args.only or args.only in "numpyro":
        extra += numpyro_peer.tables(rounds=args.rounds)
    sections = [
        "# Benchmark results\n",
        "Ratios are medians of per-round time ratios "
        "(ours / peer; below 1 means we are faster), one thread, large blocks kept "
        "in the heap (`make bench` sets glibc's mmap threshold so page faults do not "
        "swamp the 1e6-element cases).\n",
    ]
    for area, results in by_area.items():
        sections.append(f"## {area}\n\n{format_table(results, PEERS)}\n")
    sections += [f"## {title}\n\n{markdown}\n" for title, markdown in extra]
    pathlib.Path(args.output).write_text("\n".join(sections))
    chart = pathlib.Path(args.output).with_suffix(".png")
    if by_area:
        _chart(by_area, chart)
    print(f"wrote {args.output}" + (f" and {chart}" if by_area else ""))


PEERS = ("torch", "hand", "pyro", "base")


def _chart(by_area, path):
    """One horizontal bar per case and peer: ours / peer, with 1 marked."""
    import matplotlib.pyplot as plt

    rows = [(r.case.name, p, r.ratios[p]) for rs in by_area.values() for r in rs for p in r.ratios]
    fig, ax = plt.subplots(figsize=(9, 0.28 * len(rows) + 1.2))
    labels = [f"{name} (vs {peer})" for name, peer, _ in rows]
    ax.barh(range(len(rows)), [v for *_, v in rows], color="#6baed6")
    ax.axvline(1.0, color="black", linestyle=":")
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("time ratio ours / peer (left of the line: we are faster)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
