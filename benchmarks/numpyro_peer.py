"""NumPyro as a benchmark peer (issue 14): our eager and compiled steps vs ``jax.jit(svi.update)``.

NumPyro needs jax, which lives in its own interpreter (``NUMPYRO_PYTHON``;
``make bench`` creates ``.bench-venvs/numpyro``), so its steps run in a worker
process (``benchmarks/bench_numpyro.py``) that times its own updates. Our side
builds the same eight schools cases here, through the public API only: one
``SVI`` with ``Trace_ELBO`` (eager) and one with ``JitTrace_ELBO`` (compiled),
Adam with step size 0.01, each warmed up (and compiled) before timing.

Rounds alternate like ``benchmarks.harness``: each round times a fixed number
of steps of every peer, in a rotating order, and a ratio is the median over
rounds of that round's per-step time ratio, on two clocks: wall time and each
process's CPU time (``CLOCKS``), plus the ratio of the peers' fastest rounds.
When no interpreter with NumPyro is found, :func:`tables` prints
``NumPyro: not installed`` and returns nothing.
"""

import json
import os
import pathlib
import statistics
import subprocess
import time

import torch

import ppl
from benchmarks import eight_schools
from inference import SVI, JitTrace_ELBO, Trace_ELBO
from inference.autoguide import AutoNormal
from inference.optim import Adam

__all__ = ["numpyro_python", "NumPyroWorker", "ours_steppers", "measure_case", "tables", "CLOCKS"]

HERE = pathlib.Path(__file__).resolve().parent
WORKER = HERE / "bench_numpyro.py"
DEFAULT_PYTHON = HERE.parent / ".bench-venvs" / "numpyro" / "bin" / "python"
# One thread on the jax side too, as torch.set_num_threads(1) on ours.
WORKER_ENV = {
    "JAX_PLATFORMS": "cpu",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "OMP_NUM_THREADS": "1",
}

# Wall time, and the process's CPU time (which leaves out waits for a busy core).
CLOCKS = ("wall", "cpu")
# The table's rows per case: the medians on each clock, then the fastest rounds.
ROWS = (*CLOCKS, "fastest")

# The worker's case names; the guide of each (a factory: AutoNormal binds its model).
CASES = {
    "eight schools, mean-field guide": lambda: eight_schools.mean_field,
    "eight schools, AutoNormal": lambda: AutoNormal(eight_schools.model),
}


def numpyro_python():
    """The interpreter that imports NumPyro (``NUMPYRO_PYTHON`` or the default venv), or None."""
    python = os.environ.get("NUMPYRO_PYTHON") or str(DEFAULT_PYTHON)
    try:
        check = subprocess.run(
            [python, "-c", "import numpyro"], capture_output=True, timeout=300, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return python if check.returncode == 0 else None


class NumPyroWorker:
    """A running ``bench_numpyro.py``: ``seconds(case, calls)`` times ``calls`` of its updates."""

    def __init__(self, python):
        env = {**os.environ, **WORKER_ENV}
        self.process = subprocess.Popen(
            [python, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            ready = self._reply()
        except (RuntimeError, ValueError):
            self.close()  # a worker that died at start still holds our pipe ends
            raise
        self.version, self.cases = ready["numpyro"], ready["ready"]

    def _reply(self):
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the NumPyro worker exited (code {self.process.wait()})")
        return json.loads(line)

    def seconds(self, case, calls):
        """Wall and CPU seconds (``{"wall": s, "cpu": s}``) of ``calls`` updates of ``case``."""
        self.process.stdin.write(json.dumps({"case": case, "calls": calls}) + "\n")
        self.process.stdin.flush()
        reply = self._reply()
        return {clock: reply[clock] for clock in CLOCKS}

    def close(self):
        """Closes the worker's stdin, waits for it to exit and closes its stdout."""
        self.process.stdin.close()
        self.process.wait(timeout=60)
        self.process.stdout.close()


def _stepper(guide_factory, elbo, warm_steps=2):
    """A zero-argument SVI step of eight schools in its own parameter store, warmed up."""
    store = ppl.ParamStore()
    with ppl.param_store_scope(store):
        svi = SVI(eight_schools.model, guide_factory(), Adam({"lr": 0.01}), elbo)
        for _ in range(warm_steps):  # the eager warm-up step, then the compiling one
            svi.step(eight_schools.SIGMA, eight_schools.Y)

    def step():
        with ppl.param_store_scope(store):
            svi.step(eight_schools.SIGMA, eight_schools.Y)

    return step


def ours_steppers(case):
    """``{"eager": step, "compiled": step}`` for one case: Trace_ELBO and JitTrace_ELBO."""
    guide = CASES[case]
    return {"eager": _stepper(guide, Trace_ELBO()), "compiled": _stepper(guide, JitTrace_ELBO())}


def _time(step, calls):
    """``{"wall": s, "cpu": s}`` of ``calls`` steps: CPU time leaves out waits for a busy CPU."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        step()
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def _median_ratio(ours, peer, clock):
    return statistics.median(a[clock] / b[clock] for a, b in zip(ours, peer))


def measure_case(case, worker, rounds=15, budget=0.05):
    """Median per-step seconds of each peer and median per-round ratios of ours to NumPyro.

    Returns:
        ``(seconds, ratios)``, each keyed by clock (``wall``, ``cpu``: the
        process's CPU time, which on a shared machine leaves out the time spent
        waiting for a core): ``seconds[clock]`` maps ``eager``, ``compiled`` and
        ``numpyro`` to median seconds per step, ``ratios[clock]`` maps ``eager``
        and ``compiled`` to the median over rounds of ours / NumPyro. Under
        ``fastest``: each peer's fastest round (wall) and the ratio of those.
    """
    torch.set_num_threads(1)
    ours = ours_steppers(case)
    timers = {name: (lambda n, s=step: _time(s, n)) for name, step in ours.items()}
    timers["numpyro"] = lambda n: worker.seconds(case, n)
    calls = {n: max(1, min(10_000, int(budget / t(1)["wall"]))) for n, t in timers.items()}
    per_step = {name: [] for name in timers}
    names = list(timers)
    for r in range(rounds):
        for name in names[r % 3 :] + names[: r % 3]:  # rotate so drift hits every peer
            total = timers[name](calls[name])
            per_step[name].append({c: total[c] / calls[name] for c in CLOCKS})
    seconds = {
        c: {n: statistics.median(x[c] for x in v) for n, v in per_step.items()} for c in CLOCKS
    }
    ratios = {
        c: {n: _median_ratio(per_step[n], per_step["numpyro"], c) for n in ours} for c in CLOCKS
    }
    # Other jobs only ever add time: the fastest round is the nearest to an idle machine.
    seconds["fastest"] = {n: min(x["wall"] for x in v) for n, v in per_step.items()}
    ratios["fastest"] = {n: seconds["fastest"][n] / seconds["fastest"]["numpyro"] for n in ours}
    return seconds, ratios


def _table(rows, version):
    lines = [
        "| case | clock | ours eager (us) | ours compiled (us) | NumPyro jit (us) "
        "| eager/NumPyro | compiled/NumPyro |",
        "|---|---|---|---|---|---|---|",
    ]
    for case, (seconds, ratios) in rows.items():
        for clock in ROWS:
            us = {k: f"{v * 1e6:.1f}" for k, v in seconds[clock].items()}
            ratio = ratios[clock]
            lines.append(
                f"| {case}, Trace_ELBO step | {clock} | {us['eager']} | {us['compiled']} "
                f"| {us['numpyro']} | {ratio['eager']:.2f} | {ratio['compiled']:.2f} |"
            )
    note = (
        f"\n\nNumPyro {version}, `jax.jit(svi.update)` waiting for each loss, in its own "
        "process; ours is `SVI.step` with `Trace_ELBO` (eager) and `JitTrace_ELBO` "
        "(compiled). One thread each side, CPU; rounds alternate between the processes. "
        "`cpu` is each process's CPU time per step (on a shared machine it leaves out the "
        "waits for a core, which `wall` includes); `fastest` is each peer's fastest round "
        "(wall), the nearest to an idle machine. "
        "Aim (issue 14): compiled/NumPyro at 3 or below."
    )
    return "\n".join(lines) + note


def tables(rounds=15, log=print):
    """The NumPyro section ``[(title, markdown)]``, or ``[]`` when NumPyro is not installed.

    A worker that fails to start (a jax that imports but cannot run) is
    reported the same way, so the rest of the benchmark run goes on.
    """
    python = numpyro_python()
    if python is None:
        log("NumPyro: not installed")
        return []
    try:
        worker = NumPyroWorker(python)
    except (OSError, RuntimeError, ValueError) as error:  # jax installed but unusable
        log(f"NumPyro: the worker did not start ({error})")
        return []
    try:
        if set(worker.cases) != set(CASES):
            raise RuntimeError(f"the worker's cases {worker.cases} are not ours {list(CASES)}")
        rows = {case: measure_case(case, worker, rounds=rounds) for case in CASES}
    finally:
        worker.close()
    for case, (seconds, ratios) in rows.items():
        for clock in ROWS:
            log(
                f"[numpyro] {case} ({clock}): NumPyro {seconds[clock]['numpyro'] * 1e6:.1f} us, "
                f"eager/NumPyro {ratios[clock]['eager']:.2f}, "
                f"compiled/NumPyro {ratios[clock]['compiled']:.2f}"
            )
    return [("svi vs NumPyro (jit)", _table(rows, worker.version))]
