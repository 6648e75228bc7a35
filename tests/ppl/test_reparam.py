"""Reparameterizers and the ``reparam`` handler, against change-of-variables closed forms."""

import math
import threading

import pytest
import scipy.integrate
import scipy.stats
import torch

import distributions as dist
import ppl
from distributions import constraints
from distributions.transforms import AffineTransform, ExpTransform
from inference import SVI, JitTrace_ELBO, Predictive, Trace_ELBO
from inference.autoguide import AutoNormal
from inference.optim import Adam
from ppl.handlers import reparam, substitute, trace
from ppl.reparam import AutoReparam, LocScaleReparam, StudentTReparam, TransformReparam

LOC, SCALE = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.5, 2.0, 3.0])


def _loc_scale_model(family=dist.Normal, **extra):
    def model():
        with ppl.plate("p", 3):
            return ppl.sample("x", family(loc=LOC, scale=SCALE, **extra))

    return model


def _log_joint(model, *args):
    return trace(model).get_trace(*args).log_prob_sum()


# ------------------------------------------------------------------ LocScaleReparam
@pytest.mark.parametrize("centered", [0.0, 0.3, torch.tensor([0.0, 0.5, 1.0])])
@pytest.mark.parametrize(
    "family, extra, shape_params",
    [(dist.Normal, {}, ()), (dist.Laplace, {}, ()), (dist.StudentT, {"df": 4.0}, ("df",))],
)
def test_loc_scale_log_joint_changes_by_the_jacobian_only(centered, family, extra, shape_params):
    model = _loc_scale_model(family, **extra)
    config = {"x": LocScaleReparam(centered, shape_params=shape_params)}
    tr = trace(reparam(model, config=config)).get_trace()
    x = tr.nodes["x"]["value"]
    c = torch.as_tensor(centered)
    # x = loc + scale^(1-c) (d - c loc): log p(d) = log p(x) + (1 - c) log scale.
    expected = _log_joint(substitute(model, data={"x": x})) + ((1 - c) * SCALE.log()).sum()
    assert torch.allclose(tr.log_prob_sum(), expected, atol=1e-5)
    d = tr.nodes["x_decentered"]["value"]
    assert torch.allclose(x, LOC + SCALE ** (1 - c) * (d - c * LOC), atol=1e-6)


def test_the_original_site_becomes_deterministic():
    tr = trace(reparam(_loc_scale_model(), config={"x": LocScaleReparam(0)})).get_trace()
    site = tr.nodes["x"]
    assert tr.stochastic_nodes == ["x_decentered"]
    assert site["is_observed"] and site["infer"]["_deterministic"] and site["mask"] is False
    tr.compute_log_prob()
    assert torch.equal(site["log_prob"], torch.zeros(3))
    # centered=0 draws the standard family.
    fn = tr.nodes["x_decentered"]["fn"]
    assert torch.equal(fn.loc, torch.zeros(3)) and torch.equal(fn.scale, torch.ones(3))


def test_conjugate_posterior_and_evidence_are_unchanged():
    # theta ~ N(m, tau), y ~ N(theta, s): the posterior of theta is N(mp, sp) and the
    # evidence N(y; m, sqrt(tau^2 + s^2)). Under the reparameterization the log joint
    # of (d, y) must equal log N(theta(d); mp, sp) + log|dtheta/dd| + log evidence at
    # every d, i.e. the posterior of d is the posterior of theta carried over exactly.
    m, tau, s, y = 1.0, 3.0, 0.5, torch.tensor(2.0)
    precision = 1 / tau**2 + 1 / s**2
    mp, sp = (m / tau**2 + y / s**2) / precision, precision**-0.5
    log_evidence = dist.Normal(m, math.hypot(tau, s)).log_prob(y)

    def model():
        theta = ppl.sample("theta", dist.Normal(m, tau))
        ppl.sample("y", dist.Normal(theta, s), obs=y)

    c = 0.25
    reparam_model = reparam(model, config={"theta": LocScaleReparam(c)})
    for d in torch.linspace(-3.0, 5.0, 9):
        tr = trace(substitute(reparam_model, data={"theta_decentered": d})).get_trace()
        theta = tr.nodes["theta"]["value"]
        expected = dist.Normal(mp, sp).log_prob(theta) + (1 - c) * math.log(tau) + log_evidence
        assert tr.log_prob_sum().item() == pytest.approx(expected.item(), abs=1e-4)


def test_learned_centeredness_is_a_unit_interval_param_trained_by_svi():
    model = reparam(_loc_scale_model(), config={"x": LocScaleReparam()})
    guide = AutoNormal(model)
    svi = SVI(model, guide, Adam({"lr": 0.1}), Trace_ELBO())
    svi.step()
    store = ppl.get_param_store()
    assert store.get_constraint("x_centered") is constraints.unit_interval
    assert store["x_centered"].shape == ()  # shaped like the event, shared over the plate
    assert store["x_centered"].item() != pytest.approx(0.5, abs=1e-6)  # it moved


def test_observed_and_already_fixed_sites_are_left_alone():
    def model():
        ppl.sample("y", dist.Normal(0.0, 1.0), obs=torch.tensor(0.3))
        return ppl.sample("z", dist.Normal(0.0, 1.0))

    config = {"y": LocScaleReparam(0), "z": LocScaleReparam(0)}
    inner = substitute(model, data={"z": torch.tensor(1.5)})
    tr = trace(reparam(inner, config=config)).get_trace()
    assert list(tr.nodes) == ["y", "z", "_RETURN"]
    assert tr.nodes["z"]["value"].item() == 1.5 and not tr.nodes["z"]["is_observed"]


def test_loc_scale_errors_name_the_site_and_the_fix():
    with pytest.raises(ValueError, match=r"centered must lie in \[0, 1\]"):
        LocScaleReparam(1.5)
    with pytest.raises(TypeError, match=r"centered must be a number in \[0, 1\], a tensor"):
        LocScaleReparam("half")

    def model():
        ppl.sample("g", dist.Gamma(2.0, 1.0))

    with pytest.raises(TypeError, match=r"LocScaleReparam at site 'g': Gamma has no loc and"):
        reparam(model, config={"g": LocScaleReparam(0)})()


# ------------------------------------------------------------------ TransformReparam
def test_transform_reparam_log_joint_is_the_change_of_variables():
    transforms = [AffineTransform(1.0, 2.0), ExpTransform()]
    fn = dist.TransformedDistribution(dist.Normal(torch.zeros(2), 1.0), transforms).to_event(1)

    def model():
        return ppl.sample("y", fn)

    tr = trace(reparam(model, config={"y": TransformReparam()})).get_trace()
    x, y = tr.nodes["y_base"]["value"], tr.nodes["y"]["value"]
    assert tr.nodes["y_base"]["fn"].event_shape == (2,)
    assert torch.allclose(y, (1.0 + 2.0 * x).exp())
    # log p_base(x) = log p_Y(y) + log|det dy/dx|, dy/dx = 2 exp(1 + 2x) per element.
    log_det = (math.log(2.0) + 1.0 + 2.0 * x).sum()
    assert torch.allclose(tr.log_prob_sum(), fn.log_prob(y) + log_det, atol=1e-5)


def test_transform_reparam_sees_a_log_normal_as_exp_of_a_normal():
    fn = dist.LogNormal(torch.tensor([0.5, -1.0]), torch.tensor([2.0, 0.3]))

    def model():
        with ppl.plate("p", 2):
            return ppl.sample("y", fn)

    tr = trace(reparam(model, config={"y": TransformReparam()})).get_trace()
    x, y = tr.nodes["y_base"]["value"], tr.nodes["y"]["value"]
    assert type(tr.nodes["y_base"]["fn"]).__name__ == "Normal"
    # log p_Normal(x) = log p_LogNormal(exp x) + x.
    assert torch.allclose(tr.log_prob_sum(), (fn.log_prob(y) + x).sum(), atol=1e-5)


def test_transform_reparam_refuses_other_distributions():
    def model():
        ppl.sample("y", dist.Normal(0.0, 1.0))

    with pytest.raises(TypeError, match=r"TransformReparam at site 'y': expected a Transformed"):
        reparam(model, config={"y": TransformReparam()})()


# ------------------------------------------------------------------ StudentTReparam
def test_student_t_is_the_gamma_scale_mixture_of_normals():
    df, loc, scale = 3.0, 0.5, 2.0

    def model():
        return ppl.sample("x", dist.StudentT(df, loc, scale))

    tr = trace(reparam(model, config={"x": StudentTReparam()})).get_trace()
    gamma_fn, normal_fn = tr.nodes["x_gamma"]["fn"], tr.nodes["x"]["fn"]
    assert tr.stochastic_nodes == ["x_gamma", "x"]
    g = tr.nodes["x_gamma"]["value"]
    assert normal_fn.scale.item() == pytest.approx(scale / g.sqrt().item())
    # Integrating the Normal over the Gamma recovers the Student-t density (quadrature).
    for value in (-4.0, 0.5, 3.0):

        def integrand(u, value=value):
            mixing = gamma_fn.log_prob(torch.tensor(u)).exp().item()
            return mixing * scipy.stats.norm(loc, scale / math.sqrt(u)).pdf(value)

        marginal, _ = scipy.integrate.quad(integrand, 0, math.inf)
        assert marginal == pytest.approx(scipy.stats.t(df, loc, scale).pdf(value), rel=1e-6)


def test_student_t_reparam_keeps_observations():
    def model():
        ppl.sample("y", dist.StudentT(3.0, 0.0, 1.0), obs=torch.tensor(0.5))

    tr = trace(reparam(model, config={"y": StudentTReparam()})).get_trace()
    assert tr.nodes["y"]["is_observed"] and tr.nodes["y"]["value"].item() == 0.5

    def bad_data():
        with ppl.plate("data", 3):
            ppl.sample("y", dist.StudentT(3.0, 0.0, 1.0), obs=torch.zeros(2))

    # The observation is still checked at the site, against the new Normal.
    with pytest.raises(ValueError, match=r"sample site 'y'"):
        trace(reparam(bad_data, config={"y": StudentTReparam()})).get_trace()
    with pytest.raises(TypeError, match=r"StudentTReparam at site 'z': expected a StudentT"):

        def other():
            ppl.sample("z", dist.Normal(0.0, 1.0))

        reparam(other, config={"z": StudentTReparam()})()


# ------------------------------------------------------------------------- handler
def test_callable_config_does_not_reparameterize_its_own_auxiliary_sites():
    def choose(msg):
        return LocScaleReparam(0) if isinstance(msg.fn, dist.Normal) else None

    tr = trace(reparam(_loc_scale_model(), config=choose)).get_trace()
    assert tr.stochastic_nodes == ["x_decentered"]


def test_one_handler_chains_reparameterizers_on_auxiliary_sites():
    fn = dist.TransformedDistribution(dist.Normal(LOC, SCALE), [ExpTransform()])

    def model():
        return ppl.sample("y", fn)

    config = {"y": TransformReparam(), "y_base": LocScaleReparam(0)}
    tr = trace(reparam(model, config=config)).get_trace()
    assert tr.stochastic_nodes == ["y_base_decentered"]
    d = tr.nodes["y_base_decentered"]["value"]
    assert torch.allclose(tr.nodes["y"]["value"], (LOC + SCALE * d).exp())


def test_nested_handlers_chain_and_skip_deterministic_sites():
    def model():
        x = ppl.sample("x", dist.StudentT(4.0, 1.0, 2.0))
        return ppl.deterministic("twice", 2 * x)

    # The inner handler rewrites x; the outer one sees only the auxiliary site and
    # the deterministic sites, and reparameterizes the auxiliary site further.
    inner = reparam(model, config={"x": LocScaleReparam(0, shape_params=("df",))})
    outer = reparam(inner, config={"x": StudentTReparam(), "x_decentered": StudentTReparam()})
    outer = reparam(outer, config={"twice": LocScaleReparam(0)})
    tr = trace(outer).get_trace()
    assert tr.stochastic_nodes == ["x_decentered_gamma", "x_decentered"]
    assert type(tr.nodes["x_decentered"]["fn"]).__name__ == "Normal"
    assert torch.equal(tr.nodes["twice"]["value"], 2 * tr.nodes["x"]["value"])


def test_auto_reparam_picks_per_site_and_remembers():
    def model():
        mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
        tau = ppl.sample("tau", dist.HalfCauchy(5.0))
        scale = ppl.sample("scale", dist.LogNormal(0.0, 1.0))
        with ppl.plate("schools", 3):
            theta = ppl.sample("theta", dist.StudentT(4.0, mu, tau))
            ppl.sample("obs", dist.Normal(theta, scale), obs=torch.zeros(3))

    strategy = AutoReparam()
    tr = trace(strategy(model)).get_trace()
    assert tr.stochastic_nodes == [
        "mu_decentered",
        "tau",
        "scale_base_decentered",
        "theta_decentered",
    ]
    chosen = {name: type(r).__name__ for name, r in strategy.config.items() if r is not None}
    assert chosen == {
        "mu": "LocScaleReparam",
        "scale": "TransformReparam",
        "scale_base": "LocScaleReparam",
        "theta": "LocScaleReparam",
    }
    assert strategy.config["theta"].shape_params == ("df",)
    assert {"mu_centered", "theta_centered", "scale_base_centered"} <= set(ppl.get_param_store())
    # The chosen config is a plain dict config: the same rewrite, run again.
    again = trace(reparam(model, config=strategy.config)).get_trace()
    assert again.stochastic_nodes == tr.stochastic_nodes


def test_threads_sharing_one_handler_each_reparameterize():
    # While one thread is inside LocScaleReparam.apply, the other's site must
    # still be rewritten (the recursion guard is per thread).
    barrier = threading.Barrier(2, timeout=60)

    class Waiting(LocScaleReparam):
        def apply(self, msg):
            barrier.wait()
            return super().apply(msg)

    handler_model = reparam(_loc_scale_model(), config={"x": Waiting(0)})
    traces = [None, None]

    def run(i):
        traces[i] = trace(handler_model).get_trace()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [tr.stochastic_nodes for tr in traces] == [["x_decentered"], ["x_decentered"]]


@pytest.mark.slow  # compiling the SVI step takes tens of seconds
def test_compiled_svi_step_runs_a_reparameterized_model():
    # The handler made inside the model, so the compiled step traces it; with the
    # same seed the compiled losses are the eager ones (a graph break would warn,
    # and warnings are errors).
    def model():
        mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
        tau = ppl.sample("log_tau", dist.Normal(1.0, 1.0)).exp()
        with reparam(config={"theta": LocScaleReparam(0.0)}):
            with ppl.plate("schools", 3):
                theta = ppl.sample("theta", dist.Normal(mu, tau))
                ppl.sample("obs", dist.Normal(theta, 1.0), obs=torch.tensor([1.0, 2.0, 3.0]))

    losses = {}
    for elbo in (Trace_ELBO(), JitTrace_ELBO()):
        ppl.clear_param_store()
        ppl.set_rng_seed(0)
        svi = SVI(model, AutoNormal(model), Adam({"lr": 0.05}), elbo)
        losses[type(elbo).__name__] = torch.tensor([svi.step() for _ in range(3)])
    assert torch.allclose(losses["Trace_ELBO"], losses["JitTrace_ELBO"], rtol=1e-5)


def test_config_errors():
    with pytest.raises(TypeError, match=r"config= must be a dict of site name to reparameterizer"):
        reparam(_loc_scale_model(), config=3)
    with pytest.raises(TypeError, match=r"config\['x'\] must be a reparameterizer such as"):
        reparam(_loc_scale_model(), config={"x": "noncentered"})


def test_autoguide_and_predictive_see_the_auxiliary_sites():
    model = reparam(_loc_scale_model(), config={"x": LocScaleReparam(0)})
    guide = AutoNormal(model)
    assert sorted(guide()) == ["x_decentered"]
    samples = Predictive(model, guide=guide, num_samples=20)()
    assert samples["x"].shape == (20, 3)
    expected = LOC + SCALE * samples["x_decentered"]
    assert torch.allclose(samples["x"], expected, atol=1e-6)


def test_eight_schools_through_reparam_equals_the_hand_noncentered_model():
    # Same sites (mu, tau, then the standard-normal school effects), same guide and
    # seed: the fits must coincide step for step, up to float rounding.
    y = torch.tensor([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
    sigma = torch.tensor([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])

    def centered():
        mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
        tau = ppl.sample("tau", dist.HalfCauchy(5.0))
        with ppl.plate("schools", 8):
            theta = ppl.sample("theta", dist.Normal(mu, tau))
            ppl.sample("obs", dist.Normal(theta, sigma), obs=y)

    def by_hand():
        mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
        tau = ppl.sample("tau", dist.HalfCauchy(5.0))
        with ppl.plate("schools", 8):
            raw = ppl.sample("theta_decentered", dist.Normal(0.0, 1.0))
            ppl.sample("obs", dist.Normal(mu + tau * raw, sigma), obs=y)

    def fit(model):
        ppl.clear_param_store()
        ppl.set_rng_seed(1)
        svi = SVI(model, AutoNormal(model), Adam({"lr": 0.05}), Trace_ELBO())
        return torch.tensor([svi.step() for _ in range(20)])

    noncentered = reparam(centered, config={"theta": LocScaleReparam(0)})
    assert torch.allclose(fit(noncentered), fit(by_hand), rtol=1e-5)
