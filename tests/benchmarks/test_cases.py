"""Every benchmark case builds and every peer runs once; the variance table fills in.

A smoke test only: no timings are asserted. Pyro peers are checked when
pyro-ppl is installed, and skipped cleanly when it is not.
"""

import sys

import pytest

from benchmarks import (
    bench_distributions,
    bench_ppl,
    bench_predictive,
    bench_svi,
    bench_variance,
)

TIMED = [bench_distributions, bench_ppl, bench_predictive, bench_svi]


@pytest.mark.parametrize("module", TIMED, ids=lambda m: m.__name__.split(".")[-1])
def test_every_case_builds_and_every_peer_runs(module):
    cases = module.cases()
    assert cases and all("ours" in case.peers for case in cases)
    for case in cases:
        for peer in case.peers.values():
            peer()


def test_pyro_peers_are_skipped_without_pyro(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyro", None)  # makes `import pyro` raise ImportError
    for module in (bench_ppl, bench_predictive, bench_svi):
        assert all("pyro" not in case.peers for case in module.cases())
    assert bench_variance.tables(draws=2) == []
    assert "pyro-ppl is not installed" in capsys.readouterr().out


@pytest.mark.skipif(not bench_variance.pyro_available(), reason="pyro-ppl is not installed")
def test_variance_table_fills_every_row(monkeypatch):
    monkeypatch.setattr(bench_variance, "WARMUP", 1)
    monkeypatch.setattr(bench_variance, "SIZES", {"vectorized": 10, "sequential": 3})
    monkeypatch.setattr(bench_variance.torch, "set_num_threads", lambda n: None)
    [(title, markdown)] = bench_variance.tables(draws=3, log=lambda line: None)
    assert title == "gradient variance"
    for label, *_ in bench_variance.specs():
        assert f"| {label} | 3 |" in markdown


def test_same_seed_gives_paired_draws_and_a_ratio_near_one():
    # The same backend twice: identical draws, so the ratio is 1 with no error.
    a = bench_variance.gradient_variance("ppl", "vectorized", None, 4, warmup=0)
    b = bench_variance.gradient_variance("ppl", "vectorized", None, 4, warmup=0)
    ratio, rel_se = bench_variance.variance_ratio(a, b)
    assert ratio == pytest.approx(1.0) and rel_se == pytest.approx(0.0, abs=1e-12)
