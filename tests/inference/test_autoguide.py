"""Autoguides: shapes and plates, change-of-variables densities, summaries, init, errors,
and SVI fits of conjugate models (at the end of the file)."""

from types import SimpleNamespace

import pytest
import scipy.stats
import torch
import torch.distributions as tdist

import ppl
from distributions import (
    Bernoulli,
    Beta,
    Distribution,
    ExpTransform,
    MultivariateNormal,
    Normal,
    StickBreakingTransform,
    TransformedDistribution,
    constraints,
)
from inference import SVI, Trace_ELBO
from inference.autoguide import (
    AutoDelta,
    AutoDiagonalNormal,
    AutoLowRankMultivariateNormal,
    AutoMultivariateNormal,
    AutoNormal,
    init_to_mean,
    init_to_median,
    init_to_sample,
    init_to_value,
)
from inference.autoguide.multivariate import low_rank_log_density
from inference.optim import ClippedAdam
from ppl.handlers import replay, trace

ALL_GUIDES = [
    AutoDelta,
    AutoNormal,
    AutoDiagonalNormal,
    AutoMultivariateNormal,
    AutoLowRankMultivariateNormal,
]
GAUSSIAN_GUIDES = ALL_GUIDES[1:]


def model():
    """Scalar real and positive globals, a vector and a simplex latent, nested plates."""
    a = ppl.sample("a", Normal(0.0, 1.0))
    s = ppl.sample("s", TransformedDistribution(Normal(0.0, 0.5), [ExpTransform()]))
    ppl.sample("v", MultivariateNormal(torch.zeros(2), torch.eye(2)))
    simplex = TransformedDistribution(
        Normal(torch.zeros(2), 1.0).to_event(1), StickBreakingTransform()
    )
    ppl.sample("p", simplex)
    with ppl.plate("outer", 3, dim=-1):
        b = ppl.sample("b", Normal(a, s))
        with ppl.plate("inner", 2, dim=-2):
            c = ppl.sample("c", Normal(b, 1.0))
            ppl.sample("obs", Normal(c, 1.0), obs=torch.zeros(2, 3))


# torch's bijections as the oracle of each site's Jacobian.
TORCH_BIJECTIONS = {
    "a": tdist.transforms.identity_transform,
    "s": tdist.ExpTransform(),
    "v": tdist.transforms.identity_transform,
    "p": tdist.StickBreakingTransform(),
    "b": tdist.transforms.identity_transform,
    "c": tdist.transforms.identity_transform,
}


@pytest.mark.parametrize("guide_class", ALL_GUIDES)
def test_guide_sites_match_the_model_in_shape_and_plates(guide_class):
    guide = guide_class(model)
    guide_trace = trace(guide).get_trace()
    model_trace = trace(replay(model, trace=guide_trace)).get_trace()
    assert guide_trace.stochastic_nodes == model_trace.stochastic_nodes == list("asvpbc")
    for name in model_trace.stochastic_nodes:
        g, m = guide_trace.nodes[name], model_trace.nodes[name]
        assert g.value.shape == m.value.shape, name
        assert (g.fn.batch_shape, g.fn.event_shape) == (m.fn.batch_shape, m.fn.event_shape), name
        assert [f.name for f in g.cond_indep_stack] == [f.name for f in m.cond_indep_stack], name
        assert bool(m.fn.support.check(g.value).all()), name
    assert guide_trace.nodes["c"].value.shape == (2, 3)
    assert torch.isfinite(model_trace.log_prob_sum() - guide_trace.log_prob_sum())


def _set_random_params(prefix):
    store = ppl.get_param_store()
    for name in store.keys():
        value = store[name]
        if name.endswith("scale_tril"):
            store[name] = torch.eye(value.shape[0]) + 0.3 * torch.randn_like(value).tril(-1)
        elif "scale" in name:
            store[name] = 0.5 + torch.rand_like(value)
        else:
            store[name] = torch.randn_like(value)


def _oracle_log_density(guide, guide_trace):
    # log q(values) = log q_u(u) - sum of log|det J| of u -> value, with torch as the oracle.
    store = ppl.get_param_store()
    pre = guide.prefix
    u, log_det = {}, 0.0
    for name, bijection in TORCH_BIJECTIONS.items():
        value = guide_trace.nodes[name].value
        u[name] = bijection.inv(value)
        log_det = log_det + bijection.log_abs_det_jacobian(u[name], value).sum()
    if isinstance(guide, AutoNormal):
        log_q = sum(
            tdist.Normal(store[f"{pre}.locs.{n}"], store[f"{pre}.scales.{n}"]).log_prob(x).sum()
            for n, x in u.items()
        )
        return log_q - log_det
    flat = torch.cat([x.reshape(-1) for x in u.values()])
    loc = store[f"{pre}.loc"]
    if isinstance(guide, AutoDiagonalNormal):
        posterior = tdist.Independent(tdist.Normal(loc, store[f"{pre}.scale"]), 1)
    elif isinstance(guide, AutoMultivariateNormal):
        posterior = tdist.MultivariateNormal(loc, scale_tril=store[f"{pre}.scale_tril"])
    else:
        posterior = tdist.LowRankMultivariateNormal(
            loc, store[f"{pre}.cov_factor"], store[f"{pre}.scale"] ** 2
        )
    return posterior.log_prob(flat) - log_det


@pytest.mark.parametrize("guide_class", GAUSSIAN_GUIDES)
def test_guide_density_is_the_change_of_variables_density(guide_class):
    guide = guide_class(model)
    guide()
    _set_random_params(guide.prefix)
    guide_trace = trace(guide).get_trace()
    expected = _oracle_log_density(guide, guide_trace)
    assert torch.allclose(guide_trace.log_prob_sum(), expected, atol=1e-4)


@pytest.mark.parametrize("guide_class", GAUSSIAN_GUIDES)
def test_median_quantiles_and_samples_agree(guide_class):
    # 4000 draws per coordinate; KS at level 1e-3 against each reported marginal
    # (normal in unconstrained space), so a false alarm has rate < 1e-3 per coordinate.
    guide = guide_class(model)
    guide()
    _set_random_params(guide.prefix)
    median = guide.median()
    quantiles = guide.quantiles([0.25, 0.5, 0.75])
    draws = guide.sample_posterior(4000)
    for name, site in guide.sites.items():
        assert draws[name].shape == (4000,) + site.shape
        assert quantiles[name].shape == (3,) + site.shape
        assert torch.allclose(quantiles[name][1], median[name], atol=1e-6)
        if name in ("a", "s", "b"):
            u = site.transform.inv(draws[name]).reshape(4000, -1).T
            lo, mid, hi = (site.transform.inv(q).reshape(-1) for q in quantiles[name])
            for i in range(u.shape[0]):
                scale = (hi[i] - lo[i]) / (2 * 0.6744897501960817)
                target = scipy.stats.norm(mid[i].item(), scale.item()).cdf
                assert scipy.stats.kstest(u[i].numpy(), target).pvalue > 1e-3, (name, i)


def test_auto_delta_is_a_point_with_zero_log_density():
    guide = AutoDelta(model, init_loc_fn=init_to_mean)
    guide_trace = trace(guide).get_trace()
    assert guide_trace.log_prob_sum().item() == 0.0
    store = ppl.get_param_store()
    assert torch.equal(guide_trace.nodes["b"].value, store["AutoDelta.b"])
    assert guide.median()["a"].item() == 0.0
    assert guide.sample_posterior(5)["p"].shape == (5, 3)
    assert torch.equal(guide.quantiles([0.1, 0.9])["v"], torch.zeros(2, 2))


def test_auto_normal_parameters_are_per_site_and_plate_shaped():
    AutoNormal(model)()
    store = ppl.get_param_store()
    assert store["AutoNormal.locs.b"].shape == (3,)
    assert store["AutoNormal.locs.c"].shape == (2, 3)
    assert store["AutoNormal.locs.p"].shape == (2,)  # unconstrained simplex of 3
    assert torch.allclose(store["AutoNormal.scales.c"], torch.full((2, 3), 0.1))


def subsampled_model(data):
    loc = ppl.sample("loc", Normal(0.0, 1.0))
    with ppl.plate("data", len(data), subsample_size=3) as idx:
        z = ppl.sample("z", Normal(loc, 1.0))
        ppl.sample("obs", Normal(z, 1.0), obs=data[idx])


def test_auto_normal_subsamples_full_size_parameters():
    data = torch.arange(10.0)
    guide = AutoNormal(subsampled_model, init_loc_fn=init_to_value(values={"z": data}))
    guide_trace = trace(guide).get_trace(data)
    idx = guide_trace.nodes["data"].value
    assert ppl.get_param_store()["AutoNormal.locs.z"].shape == (10,)
    model_trace = trace(replay(subsampled_model, trace=guide_trace)).get_trace(data)
    assert torch.equal(model_trace.nodes["data"].value, idx)
    assert model_trace.nodes["z"].value.shape == (3,)
    assert torch.equal(guide.median(data)["z"], data)  # full size, from init_to_value


def test_user_plates_choose_the_subsample():
    data = torch.arange(10.0)
    indices = torch.tensor([7, 1, 4])

    def create_plates(data):
        return ppl.plate("data", 10, subsample=indices)

    guide = AutoNormal(subsampled_model, create_plates=create_plates)
    guide_trace = trace(guide).get_trace(data)
    assert torch.equal(guide_trace.nodes["data"].value, indices)


@pytest.mark.parametrize("guide_class", [AutoDiagonalNormal, AutoMultivariateNormal])
def test_joint_guides_refuse_subsampled_plates(guide_class):
    with pytest.raises(ValueError, match="plate 'data' is subsampled \\(3 of 10\\)"):
        guide_class(subsampled_model)(torch.arange(10.0))


class _Coin(Distribution):
    # A stand-in discrete distribution (the discrete families may not exist yet).
    support = constraints.boolean
    arg_constraints: dict = {}

    def sample(self, sample_shape=torch.Size()):
        return torch.bernoulli(torch.full(sample_shape, 0.5))

    def log_prob(self, value):
        return torch.full_like(value, -0.6931471805599453)


@pytest.mark.parametrize("guide_class", ALL_GUIDES)
def test_discrete_latents_are_refused_naming_the_site(guide_class):
    def discrete_model():
        ppl.sample("coin", _Coin())

    with pytest.raises(ValueError, match="latent site 'coin' is discrete"):
        guide_class(discrete_model)()


def test_init_strategies():
    def positive_model():
        ppl.sample("x", TransformedDistribution(Normal(1.0, 1e-3), [ExpTransform()]))
        ppl.sample("y", Normal(torch.full((2,), 4.0), 1e-3).to_event(1))

    for strategy in (init_to_median, init_to_mean, init_to_sample, init_to_median(num_samples=5)):
        guide = AutoNormal(positive_model, init_loc_fn=strategy)
        median = guide.median()
        assert abs(median["x"].log().item() - 1.0) < 0.01, strategy
        assert torch.allclose(median["y"], torch.full((2,), 4.0), atol=0.01), strategy
    guide = AutoNormal(positive_model, init_loc_fn=init_to_value(values={"x": 2.0}), prefix="g")
    assert guide.median()["x"].item() == pytest.approx(2.0)
    assert ppl.get_param_store()["g.locs.x"].item() == pytest.approx(torch.tensor(2.0).log().item())


def test_init_errors_name_the_site():
    def positive_model():
        ppl.sample("x", TransformedDistribution(Normal(0.0, 1.0), [ExpTransform()]))

    bad = AutoNormal(positive_model, init_loc_fn=init_to_value(values={"x": -1.0}))
    with pytest.raises(ValueError, match="initial value of latent site 'x' lies on or outside"):
        bad()
    wrong_shape = AutoNormal(positive_model, init_loc_fn=init_to_value(values={"x": [1.0, 2.0]}))
    with pytest.raises(ValueError, match="the value for site 'x' has shape \\(2,\\)"):
        wrong_shape()
    with pytest.raises(ValueError, match="init_scale must be positive"):
        AutoNormal(model, init_scale=0.0)
    with pytest.raises(ValueError, match="rank must be a positive int"):
        AutoLowRankMultivariateNormal(model, rank=0)
    with pytest.raises(ValueError, match="quantiles must be a 1-d list of levels"):
        AutoNormal(model).quantiles([0.0, 0.5])


def test_prototype_is_hidden_from_outer_handlers():
    guide = AutoNormal(model)
    with trace() as tracer:
        guide()
    # Only the guide's own sites (and its params and plates) are recorded, not the
    # model's observed site from the prototype run.
    assert "obs" not in tracer.trace.nodes
    assert tracer.trace.stochastic_nodes == list("asvpbc")


@pytest.mark.parametrize("guide_class", GAUSSIAN_GUIDES)
def test_each_vectorized_particle_gets_its_own_draw_and_density(guide_class):
    # An ELBO with vectorized particles runs the guide inside a plate left of the model's.
    guide = guide_class(model)
    guide()
    _set_random_params(guide.prefix)
    with trace() as tracer, ppl.plate("particles", 4, dim=-3):
        guide()
    tr = tracer.trace
    shapes = {n: tuple(tr.nodes[n].value.shape) for n in "asvpbc"}
    assert shapes == {
        "a": (4, 1, 1),
        "s": (4, 1, 1),
        "v": (4, 1, 1, 2),
        "p": (4, 1, 1, 3),
        "b": (4, 1, 3),
        "c": (4, 2, 3),
    }
    assert tr.nodes["a"].value.unique().numel() == 4
    tr.compute_log_prob()
    for k in range(4):
        nodes = {
            n: SimpleNamespace(value=tr.nodes[n].value[k].reshape(guide.sites[n].shape))
            for n in "asvpbc"
        }
        expected = _oracle_log_density(guide, SimpleNamespace(nodes=nodes))
        actual = sum(tr.nodes[n].log_prob[k].sum() for n in "asvpbc")
        assert torch.allclose(actual, expected, atol=1e-4)


@pytest.mark.parametrize("guide_class", GAUSSIAN_GUIDES[1:])
def test_get_posterior_is_the_density_of_the_unconstrained_vector(guide_class):
    guide = guide_class(model)
    guide()
    _set_random_params(guide.prefix)
    posterior = guide.get_posterior()
    assert posterior.event_shape == (guide.latent_dim,)
    loc, scale = guide._marginals()
    assert torch.allclose(posterior.mean, loc, atol=1e-6)
    assert torch.allclose(posterior.variance.sqrt(), scale, atol=1e-5)
    u = torch.randn(5, guide.latent_dim)
    if guide_class is AutoLowRankMultivariateNormal:
        store = ppl.get_param_store()
        factor, diag = store[f"{guide.prefix}.cov_factor"], store[f"{guide.prefix}.scale"]
        expected = low_rank_log_density(u - loc, factor, diag)
        assert torch.allclose(posterior.log_prob(u), expected, atol=1e-4)


# ---------------------------------------------------------------- fitting with SVI
# Bayesian linear regression with correlated coefficients (a Gaussian posterior) and
# a log-normal latent whose log has a Gaussian posterior: every Gaussian guide
# contains the exact posterior of log s, the full-rank ones that of w too.
_X = torch.tensor(
    [[1.5, 0.9], [-0.3, -0.6], [0.8, 1.1], [-1.2, -0.4], [0.4, -0.2], [2.0, 1.2],
     [-0.7, -1.3], [0.1, 0.6], [-1.6, -1.5], [0.9, 0.3], [0.2, 0.9], [-0.5, 0.1]]
)  # fmt: skip
_Y = _X @ torch.tensor([1.0, -2.0]) + 0.5 * torch.tensor(
    [0.3, -0.8, 0.5, 1.1, -0.2, 0.4, -1.0, 0.9, 0.1, -0.4, 0.7, -0.6]
)
_NOISE_SD, _Z = 0.5, torch.full((20,), 0.3)


def regression_model():
    w = ppl.sample("w", Normal(torch.zeros(2), 1.0).to_event(1))
    s = ppl.sample("s", TransformedDistribution(Normal(0.0, 1.0), [ExpTransform()]))
    with ppl.plate("rows", len(_Y)):
        ppl.sample("y", Normal((w * _X).sum(-1), _NOISE_SD), obs=_Y)
    with ppl.plate("z_rows", len(_Z)):
        ppl.sample("z", Normal(s.log(), 1.0), obs=_Z)


def _exact_regression_posterior():
    # w: mean and covariance from the precision. log s: prior N(0, 1) and 20
    # unit-noise observations of 0.3 give N(6 / 21, 1 / 21).
    precision = torch.eye(2) + _X.T @ _X / _NOISE_SD**2
    cov = torch.linalg.inv(precision)
    return cov @ (_X.T @ _Y) / _NOISE_SD**2, cov, precision


def _fit(guide_class, steps=1000, **guide_kwargs):
    guide = guide_class(regression_model, **guide_kwargs)
    optim = ClippedAdam({"lr": 0.05, "lrd": 0.01 ** (1 / steps)})
    elbo = Trace_ELBO(num_particles=16, vectorize_particles=True)
    SVI(regression_model, guide, optim, elbo).run(steps, progress=False)
    return guide


@pytest.mark.parametrize("guide_class", GAUSSIAN_GUIDES)
def test_gaussian_guides_fit_the_conjugate_posterior(guide_class):
    # Fixed seed; after a decaying schedule the SVI noise in the moments is a few
    # thousandths, the tolerances are several times that.
    guide = _fit(guide_class)
    mean, cov, precision = _exact_regression_posterior()
    draws = guide.sample_posterior(50000)
    w, log_s = draws["w"], draws["s"].log()
    assert torch.allclose(w.mean(0), mean, atol=0.02)
    assert abs(log_s.mean() - 6 / 21).item() < 0.02
    assert abs(log_s.std() / 21**-0.5 - 1).item() < 0.1
    fitted = torch.cov(w.T)
    if guide_class in (AutoNormal, AutoDiagonalNormal):
        # The mean-field optimum of KL(q || p) for a Gaussian p: variances 1 / precision_ii.
        expected = torch.diag(1 / precision.diagonal())
    else:
        expected = cov
    assert torch.allclose(fitted, expected, rtol=0.15, atol=0.002)


def test_auto_delta_finds_the_posterior_mode_in_constrained_space():
    guide = _fit(AutoDelta)
    mean, _, _ = _exact_regression_posterior()
    median = guide.median()
    assert torch.allclose(median["w"], mean, atol=0.01)
    # The density of s is log-normal(6/21, 1/21): its mode is exp(mu - sigma^2).
    assert abs(median["s"].log() - (6 / 21 - 1 / 21)).item() < 0.01


def test_auto_delta_and_auto_normal_on_beta_bernoulli():
    # Beta(2, 2) prior, 14 heads in 20 flips: posterior Beta(16, 8), mode 15 / 22.
    flips = torch.tensor([1.0] * 14 + [0.0] * 6)

    def coin_model():
        p = ppl.sample("p", Beta(2.0, 2.0))
        with ppl.plate("flips", len(flips)):
            ppl.sample("x", Bernoulli(p), obs=flips)

    for guide_class, statistic, expected, tolerance in (
        (AutoDelta, lambda g: g.median()["p"], 15 / 22, 0.01),
        # A logit-normal approximation: its mean is within 0.01 of the Beta's here.
        (AutoNormal, lambda g: g.sample_posterior(50000)["p"].mean(), 16 / 24, 0.02),
    ):
        ppl.clear_param_store()
        guide = guide_class(coin_model)
        optim = ClippedAdam({"lr": 0.05, "lrd": 0.01 ** (1 / 1000)})
        elbo = Trace_ELBO(num_particles=16, vectorize_particles=True)
        SVI(coin_model, guide, optim, elbo).run(1000, progress=False)
        assert abs(statistic(guide) - expected).item() < tolerance, guide_class.__name__
