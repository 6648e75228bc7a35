"""The HMM example runs with tiny settings and recovers what it simulated."""

import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _load_hmm():
    spec = importlib.util.spec_from_file_location("example_hmm", ROOT / "examples" / "hmm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_hmm_example_recovers_levels_and_decodes_the_states(tmp_path):
    hmm = _load_hmm()
    args = ["--num-sweeps", "4", "--length", "25", "--num-steps", "10", "--lr", "0.1"]
    result = hmm.main([*args, "--out", str(tmp_path)])
    # Levels 1.4 pA apart with noise 0.45: the fitted levels land within 0.3 of the
    # truth and the Viterbi path is right at most time points (99% here, and 0.08 the level error).
    assert (result["levels"] - hmm.TRUE_LEVELS).abs().max() < 0.3
    assert result["accuracy"] > 0.9
    assert result["losses"][-1] < result["losses"][0]
    png = pathlib.Path(result["png"])
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
