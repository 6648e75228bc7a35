"""Sticking the landing (Roeder et al. 2017) as an option of the reparameterized ELBOs."""

import math

import pytest
import torch

import distributions as dist
import ppl
from distributions import constraints
from inference import Trace_ELBO, TraceGraph_ELBO, TraceMeanField_ELBO

X = torch.tensor(1.0)  # z ~ N(0, 1), x ~ N(z, 1): the posterior is N(x / 2, 1 / 2)


def model():
    z = ppl.sample("z", dist.Normal(0.0, 1.0))
    ppl.sample("x", dist.Normal(z, 1.0), obs=X)


def _guide(m, s):
    def guide():
        loc = ppl.param("m", torch.tensor(m))
        scale = ppl.param("s", torch.tensor(s), constraint=constraints.positive)
        ppl.sample("z", dist.Normal(loc, scale))

    return guide


def _grads(elbo, guide, particles):
    ppl.clear_param_store()
    estimator = elbo(
        num_particles=particles,
        vectorize_particles=True,
        max_plate_nesting=0,
        stick_the_landing=True,
    )
    loss = estimator.differentiable_loss(model, guide)
    store = ppl.get_param_store()
    params = [store.get_unconstrained("m"), store.get_unconstrained("s")]
    return loss, torch.stack(torch.autograd.grad(loss, params))


@pytest.mark.parametrize("elbo", [Trace_ELBO, TraceGraph_ELBO])
def test_gradient_is_exactly_zero_at_the_posterior_for_every_draw(elbo):
    guide = _guide(0.5, math.sqrt(0.5))
    for seed in range(5):
        torch.manual_seed(seed)
        _, grads = _grads(elbo, guide, 1)
        assert grads.abs().max() < 1e-5
    torch.manual_seed(0)
    plain = Trace_ELBO().differentiable_loss(model, guide)
    store = ppl.get_param_store()
    (grad_m,) = torch.autograd.grad(plain, [store.get_unconstrained("m")])
    assert grad_m.abs() > 1e-3  # without the option a single draw's gradient is noise


@pytest.mark.parametrize("elbo", [Trace_ELBO, TraceGraph_ELBO])
def test_gradient_is_unbiased_away_from_the_posterior(elbo):
    # At m = 0, s = 1: d(-ELBO)/dm = -(x - 2m) = -1 and d(-ELBO)/d(log s) = -(1 - 2 s^2) = 1.
    # 20,000 draws; each draw's gradient has sd <= 1.5 here, so the mean's s.e. is about
    # 0.01 and 0.05 is 5 s.e. (a false alarm below 1e-6).
    torch.manual_seed(0)
    loss, grads = _grads(elbo, _guide(0.0, 1.0), 20000)
    assert grads.tolist() == pytest.approx([-1.0, 1.0], abs=0.05)
    exact = -(-math.log(2 * math.pi) / 2 - 0.5 - (1.0 + 1.0) / 2 + 0.5)
    assert loss.item() == pytest.approx(exact, abs=0.05)


def test_mean_field_keeps_its_analytic_kl():
    # Sites with an analytic KL have no Monte Carlo log q left to fix; the option is a no-op.
    guide = _guide(0.3, 0.8)
    torch.manual_seed(0)
    _, with_option = _grads(TraceMeanField_ELBO, guide, 1)
    torch.manual_seed(0)
    ppl.clear_param_store()
    loss = TraceMeanField_ELBO().differentiable_loss(model, guide)
    store = ppl.get_param_store()
    params = [store.get_unconstrained("m"), store.get_unconstrained("s")]
    assert torch.allclose(with_option, torch.stack(torch.autograd.grad(loss, params)))
