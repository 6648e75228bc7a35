"""The NumPyro peer: skipped cleanly without NumPyro, and measured end to end with it.

No timings are asserted. The end-to-end test runs only where an interpreter
with NumPyro is found (``NUMPYRO_PYTHON`` or ``.bench-venvs/numpyro``, which
``make bench`` creates).
"""

import sys

import pytest

from benchmarks import __main__ as runner
from benchmarks import numpyro_peer


def test_without_numpyro_the_section_is_skipped_with_a_message(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMPYRO_PYTHON", str(tmp_path / "no-such-python"))
    lines = []
    assert numpyro_peer.tables(rounds=1, log=lines.append) == []
    assert lines == ["NumPyro: not installed"]


def test_an_interpreter_without_numpyro_counts_as_not_installed(monkeypatch):
    monkeypatch.setenv("NUMPYRO_PYTHON", sys.executable)  # ours has torch, not numpyro
    assert numpyro_peer.numpyro_python() is None


def test_a_worker_that_cannot_start_is_reported_and_skipped(monkeypatch):
    # Our interpreter runs the worker script, which fails at `import jax`.
    monkeypatch.setattr(numpyro_peer, "numpyro_python", lambda: sys.executable)
    lines = []
    assert numpyro_peer.tables(rounds=1, log=lines.append) == []
    assert lines == ["NumPyro: the worker did not start (the NumPyro worker exited (code 1))"]


def test_the_driver_never_imports_the_jax_script():
    assert list(runner._modules("numpyro")) == []


def test_our_eager_steppers_run_on_every_worker_case():
    assert set(numpyro_peer.CASES) == {
        "eight schools, mean-field guide",
        "eight schools, AutoNormal",
    }
    for guide in numpyro_peer.CASES.values():
        numpyro_peer._stepper(guide, numpyro_peer.Trace_ELBO())()


@pytest.mark.slow
@pytest.mark.skipif(numpyro_peer.numpyro_python() is None, reason="NumPyro is not installed")
def test_the_worker_serves_every_case_and_exits_when_stdin_closes():
    worker = numpyro_peer.NumPyroWorker(numpyro_peer.numpyro_python())
    try:
        assert worker.cases == list(numpyro_peer.CASES)
        for case in numpyro_peer.CASES:
            seconds = worker.seconds(case, 3)
            assert seconds["wall"] > 0 and seconds["cpu"] > 0
    finally:
        worker.close()
    assert worker.process.returncode == 0
