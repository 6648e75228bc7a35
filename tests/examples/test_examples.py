"""Each example runs with tiny settings and gets what it claims right against a known answer.

Every example seeds itself, so each check below is deterministic; the margins
quoted are what a different seed would need (measured over several seeds or
derived), so the checks are not tuned to one lucky draw.
"""

import importlib.util
import math
import pathlib

import torch

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


def test_pathwise_gradient_variance_matches_the_closed_form(tmp_path):
    args = ["--num-steps", "150", "--draws", "200", "--no-progress", "--out", str(tmp_path)]
    result = _load("pathwise").main(args)
    # At the initial policy (w = b = log_s = 0) the action is a = e, e ~ N(0, 1),
    # and the pathwise per-context gradients of (a - 2c)^2 are 2(e - 2c)(c, 1, e).
    # Their variances are 36, 20 and 24 (Gaussian moments), so a batch of 32
    # gives 36/32, 20/32, 24/32. From 200 batches the estimated variance has a
    # relative sd of about 0.1 (more for w's heavier tails): 35% is > 3 sd,
    # a false-alarm rate under 1e-3 per parameter for a new seed.
    exact = torch.tensor([36.0, 20.0, 24.0]) / 32
    var = result["variances"]
    assert ((var["pathwise"] / exact - 1).abs() < 0.35).all(), var["pathwise"]
    # The score-function estimator is several times noisier on every parameter
    # (about 7x to 15x here): 3x leaves a wide margin.
    assert (var["score-function"] > 3 * var["pathwise"]).all()
    # The initial policy earns -5 on average (4 E[c^2] + 1), the best one 0.
    curve = result["curves"]["pathwise"]
    assert sum(curve[-10:]) / 10 > -0.5
    assert _png_ok(result["png"])


def test_reinforce_learns_the_paying_arms(tmp_path):
    args = ["--num-steps", "300", "--no-progress", "--out", str(tmp_path)]
    result = _load("reinforce").main(args)
    late = {k: sum(c[-30:]) / 30 for k, c in result["curves"].items()}
    # A random policy earns 1/5, the best one 1. With the baseline the policy
    # finds the paying arm of every context (the 30-update mean has an sd of
    # about 0.5 / sqrt(30 * 16) = 0.02 around its expectation); without it the
    # reward offset of 5 swamps the signal and it stays well below.
    assert late["baseline=True"] > 0.8
    assert late["baseline=True"] > late["baseline=False"] + 0.1
    assert _png_ok(result["png"])


def test_gaussian_mixture_runs_every_variant_and_draws_the_graph(tmp_path):
    args = ["--num-steps", "20", "--draws", "15", "--num-data", "30", "--no-progress"]
    result = _load("gaussian_mixture").main(args + ["--out", str(tmp_path)])
    variances = result["variances"]
    assert len(result["curves"]) == 4
    # Enumeration leaves no assignment to sample: the logits' gradient variance
    # is exactly zero; the score-function variants' is not, and the averaged
    # baseline cuts it (248 vs 540 here; over seeds 0-7 of data and draws by
    # 2.1x to 2.4x, so the 1.5x asked for is far from the spread).
    assert variances["TraceEnum_ELBO (z summed out)"]["logits"] == 0.0
    plain = variances["TraceGraph_ELBO"]["logits"]
    assert plain > 0
    assert 1.5 * variances["TraceGraph_ELBO + avg baseline"]["logits"] < plain
    assert _png_ok(result["png"]) and _png_ok(result["scg_png"])


def test_gaussian_mixture_enumerated_fit_finds_the_cluster_means():
    gm = _load("gaussian_mixture")
    data = gm.make_data(30)
    _, m = gm.fit("TraceEnum_ELBO (z summed out)", data, 300)
    # The clusters are 4 units apart at scale 0.5, so the nearest true location
    # labels every point; the posterior mean of each location is then within
    # 0.01 of its cluster's mean (prior sd 5), with a posterior sd of about
    # 0.5 / sqrt(10) = 0.16. 0.25 allows for the 300-step fit (off by < 0.07).
    label = (data[:, None] - gm.TRUE_LOCS).abs().argmin(-1)
    means = torch.stack([data[label == k].mean() for k in range(gm.K)])
    assert (m.sort().values - means).abs().max() < 0.25, (m, means)


def test_vae_uses_its_code_on_real_valued_pixels(tmp_path):
    torch.set_num_threads(2)
    try:
        result = _load("vae").main(["--num-epochs", "20", "--no-progress", "--out", str(tmp_path)])
        # The example runs on its --threads (default 1), then gives the caller's
        # thread count back.
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)  # conftest's setting for the suite
    # Pixels are intensities in [0, 1] (validation is on in the suite, and the
    # likelihood opted out with validate_args=False). A VAE that ignores z can
    # do no better than the mean image, 27.11 per image: the fit first sits on
    # that plateau, then uses its code. After 20 epochs seeds 0-3 reach 25.5 to
    # 25.9 and reconstruct with a mean pixel error of 0.12-0.15 against the mean
    # image's 0.19; the checks ask for 0.5 below the plateau and 10% better.
    assert result["history"][-1] < result["code_free_loss"] - 0.5
    assert result["reconstruction_error"] < 0.9 * result["mean_image_error"]
    assert _png_ok(result["png"])


def _eight_schools_exact():
    """E[mu | y] and sd[mu | y] under the example's priors, by quadrature over (mu, tau)."""
    es = _load("eight_schools")
    y, sigma = es.Y.double(), es.SIGMA.double()
    mu = torch.linspace(-30, 40, 701, dtype=torch.float64)[:, None]
    # tau = 5 tan(pi u / 2) turns the HalfCauchy(5) prior into a uniform u grid.
    u = (torch.arange(2000, dtype=torch.float64) + 0.5) / 2000
    tau = 5 * torch.tan(math.pi * u / 2)
    scale = (sigma[:, None, None] ** 2 + tau**2).sqrt()
    log_w = torch.distributions.Normal(mu, scale).log_prob(y[:, None, None]).sum(0)
    log_w = log_w + torch.distributions.Normal(0.0, 5.0).log_prob(mu)
    w = (log_w - log_w.max()).exp()
    w = w / w.sum()
    mean = (w * mu).sum()
    return es, mean.item(), ((w * mu**2).sum() - mean**2).sqrt().item()


def test_eight_schools_posterior_of_mu_matches_quadrature(tmp_path):
    es, exact_mean, exact_sd = _eight_schools_exact()
    # With these priors E[mu | y] = 4.40 and sd 3.32 (theta integrated out).
    assert abs(exact_mean - 4.40) < 0.01 and abs(exact_sd - 3.32) < 0.01
    args = ["--num-steps", "600", "--num-samples", "1000", "--no-progress", "--out", str(tmp_path)]
    result = es.main(args)
    mu = result["samples"]["mu"]
    assert result["samples"]["theta"].shape == (1000, 8)
    # Over seeds 0-5 the 600-step mean-field fit puts the mean of mu within
    # 0.45 of the exact value and its sd within 25% (2.5 to 4.2); the check
    # allows 1.0 (0.3 posterior sd; 1000 draws add 0.1 of Monte Carlo error)
    # and a factor of 1.5 on the sd.
    assert abs(mu.mean().item() - exact_mean) < 1.0
    assert 1 / 1.5 < mu.std().item() / exact_sd < 1.5
    # Every school's y lies well inside its posterior predictive (sd >= 9).
    assert result["coverage"] >= 0.75
    assert _png_ok(result["png"])


def test_examples_run_with_zero_steps(tmp_path):
    es = _load("eight_schools").main(
        ["--num-steps", "0", "--num-samples", "20", "--no-progress", "--out", str(tmp_path)]
    )
    assert es["losses"] == [] and _png_ok(es["png"])
    rf = _load("reinforce").main(["--num-steps", "0", "--no-progress", "--out", str(tmp_path)])
    assert all(c == [] for c in rf["curves"].values()) and _png_ok(rf["png"])
    pw = _load("pathwise").main(
        ["--num-steps", "0", "--draws", "3", "--no-progress", "--out", str(tmp_path)]
    )
    assert _png_ok(pw["png"])
    gm = _load("gaussian_mixture").main(
        ["--num-steps", "0", "--draws", "2", "--no-progress", "--out", str(tmp_path)]
    )
    assert all(c == [] for c in gm["curves"].values()) and _png_ok(gm["png"])
    vae = _load("vae").main(["--num-epochs", "0", "--no-progress", "--out", str(tmp_path)])
    assert vae["history"] == [] and _png_ok(vae["png"])


def test_bayesian_regression_matches_least_squares(tmp_path):
    result = _load("bayesian_regression").main(
        ["--num-steps", "400", "--num-samples", "200", "--no-progress", "--out", str(tmp_path)]
    )
    x, y = _load("bayesian_regression").load_data()
    design = torch.stack([torch.ones_like(x), x], -1)
    coef = torch.linalg.lstsq(design, y[:, None]).solution.squeeze(-1)
    resid_sd = (y - design @ coef).std().item()
    # Priors of sd 10 on standardized data barely move the posterior off least
    # squares (b = 0.586), whose posterior sd is resid_sd / sqrt(n) = 0.039.
    # The 400-step fit lands 0.02 off; 0.06 is 1.5 posterior sd. The noise scale
    # is pinned down to about 0.03 (n = 442).
    b, sigma = result["samples"]["b"], result["samples"]["sigma"]
    assert abs(b.mean().item() - coef[1].item()) < 0.06
    assert abs(sigma.mean().item() - resid_sd) < 0.05
    assert _png_ok(result["png"])
