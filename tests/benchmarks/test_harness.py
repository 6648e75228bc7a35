"""The benchmark harness and report writer work end to end (no timing assertions)."""

from benchmarks import __main__ as runner
from benchmarks.harness import Case, format_table, measure


def test_measure_reports_ratios_and_the_table_has_a_geomean_row():
    result = measure(
        Case("demo", "sum", {"ours": lambda: sum(range(10)), "hand": lambda: 45}), rounds=3
    )
    assert set(result.seconds) == {"ours", "hand"} and result.ratios["hand"] > 0
    table = format_table([result], ("hand",))
    assert "| sum |" in table and "geometric mean" in table


def test_chart_is_written(tmp_path):
    result = measure(Case("demo", "noop", {"ours": lambda: None, "torch": lambda: None}), rounds=2)
    path = tmp_path / "chart.png"
    runner._chart({"demo": [result]}, path)
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_a_peers_context_is_entered_around_its_timed_batches_only():
    from contextlib import contextmanager

    state = {"inside": False, "enters": 0, "calls_inside": 0, "calls_outside": 0}

    @contextmanager
    def switched():
        state["enters"] += 1
        state["inside"] = True
        try:
            yield
        finally:
            state["inside"] = False

    def base():
        state["calls_inside" if state["inside"] else "calls_outside"] += 1

    def ours():
        assert not state["inside"], "another peer's context leaked into ours"

    measure(
        Case("demo", "ctx", {"ours": ours, "base": base}, contexts={"base": switched}), rounds=3
    )
    # Warm-up, calibration and one batch per round; every call of base ran inside.
    assert state["enters"] == 1 + 1 + 3
    assert state["calls_outside"] == 0 and state["calls_inside"] > 3
