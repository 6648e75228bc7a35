"""The enumeration benchmark cases build and every peer runs once (no timings asserted)."""

import sys

import pytest

from benchmarks import bench_enum


@pytest.mark.slow
def test_every_enum_case_builds_and_every_peer_runs():
    cases = bench_enum.cases()
    assert [c.area for c in cases] == ["enum"] * 3
    for case in cases:
        for peer in case.peers.values():
            peer()


def test_pyro_peers_are_skipped_without_pyro(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyro", None)
    assert all("pyro" not in case.peers for case in bench_enum.cases())
    assert "pyro-ppl is not installed" in capsys.readouterr().out
