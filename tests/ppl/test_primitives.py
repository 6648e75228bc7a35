"""The primitives: sample, observe, param, factor, deterministic."""

import math

import pytest
import torch

import ppl
from distributions import Normal, constraints
from inference import SVI, Trace_ELBO
from inference.autoguide import AutoNormal
from inference.optim import ClippedAdam
from ppl.handlers import trace


def test_sample_shape_with_and_without_handlers():
    d = Normal(torch.zeros(2), 1.0)
    assert ppl.sample("x", d, sample_shape=(3,)).shape == (3, 2)

    def model():
        with ppl.plate("p", 2):
            return ppl.sample("x", d, sample_shape=(3,))

    tr = trace(model).get_trace()
    assert tr.nodes["x"]["value"].shape == (3, 2)
    assert tr.nodes["x"]["kwargs"]["sample_shape"] == (3,)
    tr.compute_log_prob()
    assert tr.nodes["x"]["log_prob"].shape == (3, 2)


def test_sample_under_handlers_is_reparameterized():
    loc = torch.tensor(1.0, requires_grad=True)
    x = trace(lambda: ppl.sample("x", Normal(loc, 2.0)))()
    x.backward()
    assert loc.grad.item() == 1.0


def test_infer_dict_is_copied_not_shared():
    hints = {"enumerate": "parallel"}
    tr = trace(lambda: ppl.sample("x", Normal(0.0, 1.0), infer=hints)).get_trace()
    tr.nodes["x"]["infer"]["extra"] = 1
    assert hints == {"enumerate": "parallel"}


def test_observe_is_an_observed_sample():
    value = torch.tensor(0.3)
    tr = trace(lambda: ppl.observe("y", Normal(0.0, 1.0), value)).get_trace()
    assert tr.observation_nodes == ["y"] and tr.nodes["y"]["value"] is value
    with pytest.raises(ValueError, match="observe site 'y': value is None"):
        ppl.observe("y", Normal(0.0, 1.0), None)


def test_factor_adds_log_factor():
    def model():
        with ppl.plate("data", 3):
            ppl.factor("f", torch.tensor([1.0, 2.0, 3.0]))

    tr = trace(model).get_trace()
    site = tr.nodes["f"]
    assert site["is_observed"] and site["infer"] == {"is_auxiliary": True}
    assert torch.allclose(tr.log_prob_sum(), torch.tensor(6.0))
    assert ppl.factor("f", torch.tensor(1.0)) is None  # no handler: nothing to record


def test_deterministic_records_without_log_prob():
    def model():
        x = ppl.sample("x", Normal(0.0, 1.0))
        with ppl.plate("data", 4):
            return ppl.deterministic("d", x * torch.ones(4), event_dim=0)

    tr = trace(model).get_trace()
    site = tr.nodes["d"]
    assert site["infer"]["_deterministic"] and site["is_observed"] and site["mask"] is False
    tr.compute_log_prob()
    assert torch.equal(site["log_prob"], torch.zeros(4))
    assert torch.allclose(tr.log_prob_sum(), tr.nodes["x"]["log_prob"])
    assert tr.nodes["_RETURN"]["value"] is site["value"]


def test_deterministic_without_handlers_returns_value():
    value = torch.ones(2)
    assert ppl.deterministic("d", value) is value


def test_module_type_error():
    with pytest.raises(TypeError, match="module 'm': expected a torch.nn.Module, got int"):
        ppl.module("m", 3)


# ---------------------------------------------------------------- obs_mask
DATA = torch.tensor([0.5, 0.0, -1.0, 0.0])  # entries 1 and 3 are missing (any filler)
MASK = torch.tensor([True, False, True, False])


def masked_model(data, mask):
    mu = ppl.sample("mu", Normal(0.0, 1.0))
    with ppl.plate("data", len(data)):
        return ppl.sample("x", Normal(mu, 1.0), obs=data, obs_mask=mask)


def test_obs_mask_splits_the_site_as_pyro_does():
    tr = trace(masked_model).get_trace(DATA, MASK)
    observed, unobserved, merged = tr.nodes["x_observed"], tr.nodes["x_unobserved"], tr.nodes["x"]
    assert observed["is_observed"] and torch.equal(observed["value"], DATA)
    assert torch.equal(observed["mask"], MASK)
    assert not unobserved["is_observed"] and torch.equal(unobserved["mask"], ~MASK)
    assert merged["infer"]["_deterministic"]
    expected = torch.where(MASK, DATA, unobserved["value"])
    assert torch.equal(merged["value"], expected) and torch.equal(
        tr.nodes["_RETURN"]["value"], expected
    )
    assert [f.name for f in unobserved["cond_indep_stack"]] == ["data"]
    tr.compute_log_prob()
    mu = tr.nodes["mu"]["value"]
    log_p = Normal(mu, 1.0).log_prob(expected)
    torch.testing.assert_close(observed["log_prob"], torch.where(MASK, log_p, 0.0))
    torch.testing.assert_close(unobserved["log_prob"], torch.where(MASK, 0.0, log_p))


def test_obs_mask_elbo_matches_the_closed_form():
    m0, s0 = torch.tensor(0.3), torch.tensor(0.5)
    a0, b0 = torch.tensor([0.0, 0.7, 0.0, -0.4]), torch.tensor([1.0, 0.8, 1.0, 1.5])

    def guide(data, mask):
        m, s = ppl.param("m", m0), ppl.param("s", s0, constraint=constraints.positive)
        ppl.sample("mu", Normal(m, s))
        a, b = ppl.param("a", a0), ppl.param("b", b0, constraint=constraints.positive)
        with ppl.plate("data", len(data)), ppl.handlers.mask(mask=~mask):
            ppl.sample("x_unobserved", Normal(a, b))

    # E_q log N(x | mu, 1) for mu ~ N(m, s^2), x ~ N(a, b^2) independent:
    # -log(2 pi)/2 - ((x_mean - m)^2 + x_var + s^2)/2; entropies log(2 pi e v)/2.
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    x_mean, x_var = torch.where(MASK, DATA, a0), torch.where(MASK, 0.0, b0**2)
    expected = (
        -half_log_2pi
        - 0.5 * (m0**2 + s0**2)
        + (-half_log_2pi - 0.5 * ((x_mean - m0) ** 2 + x_var + s0**2)).sum()
        + 0.5 * torch.log(2 * math.pi * math.e * s0**2)
        + (0.5 * torch.log(2 * math.pi * math.e * b0**2))[~MASK].sum()
    )
    elbo = Trace_ELBO(num_particles=40000, vectorize_particles=True)
    loss = elbo.differentiable_loss(masked_model, guide, DATA, MASK)
    # The estimate's sd is about 2.2 / sqrt(40000) = 0.011; 0.06 is over 5 sd
    # (false-alarm rate below 1e-6 for this fixed seed's draw anyway).
    assert abs(-loss.item() - expected.item()) < 0.06
    loss.backward()
    grad = ppl.get_param_store().get_unconstrained("a").grad
    # The guide's observed entries are masked out: exactly no gradient there.
    assert torch.equal(grad[MASK], torch.zeros(2))
    # d(-ELBO)/da_i = a_i - m for the imputed entries.
    torch.testing.assert_close(grad[~MASK], (a0 - m0)[~MASK], atol=0.05, rtol=0)


@pytest.mark.slow  # an SVI fit: a few seconds on a loaded 2-core machine
def test_obs_mask_imputation_fitted_by_an_autoguide():
    guide = AutoNormal(masked_model)
    elbo = Trace_ELBO(num_particles=8, vectorize_particles=True)
    svi = SVI(masked_model, guide, ClippedAdam({"lr": 0.1, "lrd": 0.98}), elbo)
    for _ in range(150):
        svi.step(DATA, MASK)
    # Exact posterior: mu | observed ~ N(sum(obs) / (1 + n_obs), .); each missing
    # x has the same mean, which a mean-field Gaussian guide recovers exactly.
    post_mean = DATA[MASK].sum() / (1 + MASK.sum())
    median = guide.median(DATA, MASK)
    assert median["x_unobserved"].shape == (4,)
    # Over seeds 0-3 the fits missed by at most 0.07 (the decayed rate's noise).
    assert abs(median["mu"] - post_mean) < 0.15
    assert torch.all((median["x_unobserved"][~MASK] - post_mean).abs() < 0.15)


def test_obs_mask_with_event_dims_masks_whole_events():
    d = Normal(torch.zeros(3, 2), 1.0).to_event(1)
    obs, mask = torch.ones(3, 2), torch.tensor([True, False, True])

    def model():
        with ppl.plate("rows", 3):
            return ppl.sample("v", d, obs=obs, obs_mask=mask)

    tr = trace(model).get_trace()
    value = tr.nodes["v"]["value"]
    assert torch.equal(value[mask], obs[mask])
    assert torch.equal(value[~mask], tr.nodes["v_unobserved"]["value"][~mask])


def test_obs_mask_without_handlers_merges_data_and_draws():
    torch.manual_seed(3)
    value = ppl.sample("x", Normal(torch.zeros(4), 1.0), obs=DATA, obs_mask=MASK)
    torch.manual_seed(3)
    draw = Normal(torch.zeros(4), 1.0).sample()
    assert torch.equal(value, torch.where(MASK, DATA, draw))


def test_obs_mask_may_be_a_plain_bool():
    def model():
        with ppl.plate("data", 4):
            return ppl.sample("x", Normal(0.0, 1.0), obs=DATA, obs_mask=True)

    tr = trace(model).get_trace()
    assert torch.equal(tr.nodes["x"]["value"], DATA)
    assert tr.nodes["x_unobserved"]["mask"].item() is False


def test_obs_mask_errors():
    d = Normal(torch.zeros(4), 1.0)
    with pytest.raises(ValueError, match="sample site 'x': obs_mask needs obs"):
        ppl.sample("x", d, obs_mask=MASK)
    with pytest.raises(TypeError, match="sample site 'x': obs_mask must be a bool tensor"):
        ppl.sample("x", d, obs=DATA, obs_mask=MASK.float())
    with pytest.raises(
        ValueError,
        match=r"sample site 'x': obs_mask of shape \(3,\) does not broadcast to the batch "
        r"shape \(4,\)",
    ):
        trace(masked_model)(DATA, torch.tensor([True] * 3))


# ------------------------------------------- observed sample outside inference
def test_observed_sample_outside_inference_warns_as_pyro():
    obs = torch.tensor(0.5)
    with pytest.warns(RuntimeWarning, match="trying to observe a value outside of inference at y"):
        assert ppl.sample("y", Normal(0.0, 1.0), obs=obs) is obs
    with pytest.warns(RuntimeWarning, match="outside of inference at z"):
        ppl.observe("z", Normal(0.0, 1.0), obs)


def test_no_warning_for_latent_deterministic_or_handled_sites():
    # Warnings are errors in this suite: any warning here fails the test.
    ppl.sample("x", Normal(0.0, 1.0))
    ppl.deterministic("d", torch.ones(2))
    trace(lambda: ppl.sample("y", Normal(0.0, 1.0), obs=torch.tensor(0.5)))()
    ppl.sample("m", Normal(torch.zeros(4), 1.0), obs=DATA, obs_mask=MASK)  # as in Pyro
