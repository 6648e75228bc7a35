"""Predictive: shapes, site selection, closed-form posterior predictives, vectorization."""

import pytest
import scipy.stats
import torch
import torch.distributions as tdist

import ppl
from distributions import Beta, Binomial, Normal
from inference import Predictive, VectorizationWarning
from inference.autoguide import AutoNormal

# Normal-Normal: mu ~ N(0, PRIOR_SD^2), y_i ~ N(mu, NOISE_SD^2).
PRIOR_SD, NOISE_SD = 2.0, 1.0
DATA = torch.tensor([0.3, 1.1, 2.0, 0.7])


def normal_model(data=DATA):
    mu = ppl.sample("mu", Normal(0.0, PRIOR_SD))
    with ppl.plate("data", len(data)):
        ppl.sample("y", Normal(mu, NOISE_SD), obs=data)
    return mu


def exact_posterior(data=DATA):
    precision = 1 / PRIOR_SD**2 + len(data) / NOISE_SD**2
    return (data.sum() / NOISE_SD**2) / precision, precision**-0.5


def nested_model():
    g = ppl.sample("g", Normal(0.0, 1.0))
    vec = ppl.sample("vec", Normal(torch.zeros(3), 1.0).to_event(1))
    with ppl.plate("outer", 4, dim=-1):
        a = ppl.sample("a", Normal(g, 1.0))
        with ppl.plate("inner", 2, dim=-2):
            b = ppl.sample("b", Normal(a, 1.0))
            ppl.deterministic("b2", 2 * b)
    return vec.sum()


@pytest.mark.parametrize("parallel", [True, False])
def test_shapes_have_one_leading_sample_dim_and_no_singletons(parallel):
    samples = Predictive(nested_model, num_samples=7, parallel=parallel)()
    assert {k: tuple(v.shape) for k, v in samples.items()} == {
        "g": (7,),
        "vec": (7, 3),
        "a": (7, 4),
        "b": (7, 2, 4),
        "b2": (7, 2, 4),
    }
    assert torch.equal(samples["b2"], 2 * samples["b"])


def test_return_sites_select_deterministic_and_return_value():
    pred = Predictive(nested_model, num_samples=5, return_sites=["b2", "_RETURN"])
    samples = pred()
    assert sorted(samples) == ["_RETURN", "b2"]
    assert samples["_RETURN"].shape == (5,)


def test_return_sites_naming_no_site_is_an_error():
    pred = Predictive(normal_model, num_samples=3, return_sites=["mu", "nope"], parallel=False)
    with pytest.raises(ValueError, match=r"return_sites \['nope'\] are not sites of the model"):
        pred()


def test_factor_sites_are_not_returned_by_default():
    def model():
        x = ppl.sample("x", Normal(0.0, 1.0))
        ppl.factor("penalty", -x.abs())

    assert sorted(Predictive(model, num_samples=3)()) == ["x"]


def test_observed_sites_are_resampled_unless_given():
    mu = torch.full((6,), 10.0)
    fresh = Predictive(normal_model, posterior_samples={"mu": mu})()
    assert fresh["y"].shape == (6, 4)
    assert not torch.equal(fresh["y"][0], DATA)
    assert torch.equal(fresh["mu"], mu)
    given = torch.arange(24.0).reshape(6, 4)
    kept = Predictive(normal_model, posterior_samples={"mu": mu, "y": given})()
    assert torch.equal(kept["y"], given)


def test_normal_normal_posterior_predictive_matches_closed_form():
    # Draws mu from the exact posterior, then checks y_new ~ N(mu_n, sd_n^2 + noise^2)
    # with a KS test at level 1e-3 (false-alarm rate 0.1% per run; the seed is fixed).
    loc, sd = exact_posterior()
    mu = Normal(loc, sd).sample((4000,))
    y_new = Predictive(normal_model, posterior_samples={"mu": mu})()["y"][:, 0]
    scale = (sd**2 + NOISE_SD**2) ** 0.5
    result = scipy.stats.kstest(y_new.numpy(), scipy.stats.norm(loc.item(), scale).cdf)
    assert result.pvalue > 1e-3


def test_posterior_predictive_through_a_traced_guide_and_an_autoguide():
    # Both guides are set to the exact posterior; KS at level 1e-3 as above.
    loc, sd = exact_posterior()

    def guide(data=DATA):
        ppl.sample("mu", Normal(loc, sd))

    auto = AutoNormal(normal_model)
    auto()
    store = ppl.get_param_store()
    store["AutoNormal.locs.mu"] = loc.clone()
    store["AutoNormal.scales.mu"] = torch.as_tensor(sd).clone()
    target = scipy.stats.norm(loc.item(), (sd**2 + NOISE_SD**2) ** 0.5).cdf
    for g in (guide, auto):
        samples = Predictive(normal_model, guide=g, num_samples=4000)()
        assert samples["mu"].shape == (4000,)
        assert scipy.stats.kstest(samples["y"][:, 2].numpy(), target).pvalue > 1e-3


def test_prior_predictive_without_guide_or_samples():
    # Prior predictive of y: N(0, PRIOR_SD^2 + NOISE_SD^2); KS at level 1e-3.
    samples = Predictive(normal_model, num_samples=4000)()
    target = scipy.stats.norm(0.0, (PRIOR_SD**2 + NOISE_SD**2) ** 0.5).cdf
    assert scipy.stats.kstest(samples["y"][:, 1].numpy(), target).pvalue > 1e-3
    assert samples["y"].std(0).min() > 1.5


def test_parallel_and_sequential_runs_agree_given_the_same_latents():
    mu = torch.randn(20)

    def model(data=DATA):
        mu = ppl.sample("mu", Normal(0.0, PRIOR_SD))
        with ppl.plate("data", len(data)):
            return ppl.deterministic("shifted", mu + data)

    par = Predictive(model, posterior_samples={"mu": mu})()
    seq = Predictive(model, posterior_samples={"mu": mu}, parallel=False)()
    assert torch.equal(par["shifted"], seq["shifted"])
    assert torch.equal(par["shifted"], mu[:, None] + DATA)


def test_models_vmap_cannot_run_fall_back_with_one_warning():
    def model():
        x = ppl.sample("x", Normal(0.0, 1.0))
        if x > 0:  # Python control flow on a tensor value: vmap cannot trace it
            ppl.deterministic("sign", torch.tensor(1.0))
        else:
            ppl.deterministic("sign", torch.tensor(-1.0))

    pred = Predictive(model, num_samples=50)
    with pytest.warns(VectorizationWarning, match="could not be vectorized over 50 samples"):
        samples = pred()
    assert torch.equal(samples["sign"], torch.sign(samples["x"]))
    assert not pred.parallel
    assert pred()["x"].shape == (50,)  # no second warning: filterwarnings=error would raise


def test_a_model_broken_for_every_sample_raises_its_own_error():
    def model():
        ppl.sample("x", Normal(0.0, 1.0))
        raise KeyError("broken model")

    with pytest.raises(KeyError, match="broken model"):
        Predictive(model, num_samples=3)()


def test_sample_count_errors():
    with pytest.raises(ValueError, match="pass num_samples"):
        Predictive(normal_model)
    with pytest.raises(ValueError, match="num_samples=5 but posterior_samples hold 3"):
        Predictive(normal_model, posterior_samples={"mu": torch.zeros(3)}, num_samples=5)
    with pytest.raises(ValueError, match="disagree on the number of samples"):
        Predictive(normal_model, posterior_samples={"a": torch.zeros(3), "b": torch.zeros(4)})
    with pytest.raises(ValueError, match="num_samples must be a positive int"):
        Predictive(normal_model, num_samples=0)


def test_results_carry_no_gradient_and_new_params_reach_the_store():
    def model():
        w = ppl.param("w", lambda: torch.tensor(3.0))
        return ppl.sample("x", Normal(w, 1.0))

    samples = Predictive(model, num_samples=4)()
    assert not samples["x"].requires_grad
    assert ppl.get_param_store()["w"].item() == 3.0


def test_beta_binomial_posterior_predictive_matches_closed_form():
    # p ~ Beta(2, 3), k = 7 of n = 10: posterior Beta(9, 6); a new count of 12 trials
    # is BetaBinomial(12, 9, 6). Chi-square test at level 1e-3 over 4000 draws
    # (false-alarm rate 0.1% per run; the seed is fixed).
    def model(trials, k=None):
        p = ppl.sample("p", Beta(2.0, 3.0))
        return ppl.sample("k", Binomial(trials, probs=p), obs=k)

    p = tdist.Beta(9.0, 6.0).sample((4000,))
    counts = Predictive(model, posterior_samples={"p": p})(12.0)["k"]
    assert counts.shape == (4000,)
    observed = torch.bincount(counts.long(), minlength=13).numpy()
    expected = scipy.stats.betabinom(12, 9, 6).pmf(range(13)) * 4000
    # Merge counts 0 and 1 so every bin expects at least 5 draws.
    observed = [observed[:2].sum(), *observed[2:]]
    expected = [expected[:2].sum(), *expected[2:]]
    assert scipy.stats.chisquare(observed, expected).pvalue > 1e-3
