"""Each example runs with tiny settings and produces a real result and a PNG."""

import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _load(name):
    spec = importlib.util.spec_from_file_location(
        f"example_{name}", ROOT / "examples" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _png_ok(path):
    path = pathlib.Path(path)
    return path.exists() and path.stat().st_size > 1000 and path.read_bytes()[:4] == b"\x89PNG"


def test_pathwise_has_lower_variance_and_learns(tmp_path):
    result = _load("pathwise").main(["--num-steps", "150", "--draws", "40", "--out", str(tmp_path)])
    var = result["variances"]
    assert (var["pathwise"] < var["score-function"]).all()
    curve = result["curves"]["pathwise"]
    assert sum(curve[-10:]) / 10 > sum(curve[:10]) / 10
    assert _png_ok(result["png"])


def test_reinforce_learns_the_paying_arms(tmp_path):
    result = _load("reinforce").main(["--num-steps", "300", "--out", str(tmp_path)])
    for curve in result["curves"].values():
        # A random policy earns 1/5 on average; a learned one close to 1.
        assert sum(curve[-30:]) / 30 > 0.6
    assert _png_ok(result["png"])


def test_gaussian_mixture_converges_and_draws_the_graph(tmp_path):
    args = ["--num-steps", "150", "--draws", "15", "--num-data", "30", "--out", str(tmp_path)]
    result = _load("gaussian_mixture").main(args)
    for curve in result["curves"].values():
        assert sum(curve[-10:]) / 10 < sum(curve[:10]) / 10
    assert _png_ok(result["png"]) and _png_ok(result["scg_png"])


def test_vae_loss_goes_down(tmp_path):
    result = _load("vae").main(["--num-epochs", "3", "--out", str(tmp_path)])
    assert result["history"][-1] < result["history"][0]
    assert _png_ok(result["png"])
