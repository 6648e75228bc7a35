"""Doubly reparameterized IWAE gradients (RenyiELBO(alpha=0, dreg=True))."""

import math

import pytest
import torch

import ppl
from distributions import Bernoulli, Normal, constraints
from inference.renyi_elbo import RenyiELBO

X = torch.tensor(0.8)
K = 5


def model():
    prior_loc = ppl.param("prior_loc", torch.tensor(0.3))
    z = ppl.sample("z", Normal(prior_loc, 1.0))
    ppl.sample("x", Normal(z, 1.0), obs=X)


def make_guide(m0, s0):
    def guide():
        m = ppl.param("m", torch.tensor(m0))
        s = ppl.param("s", torch.tensor(s0), constraint=constraints.positive)
        ppl.sample("z", Normal(m, s))

    return guide


def _grads(elbo, guide, seed):
    torch.manual_seed(seed)
    elbo.loss(model, guide)  # creates the params
    leaves = dict(ppl.get_param_store().named_parameters())  # unconstrained tensors
    params = [leaves["m"], leaves["s"], leaves["prior_loc"]]
    torch.manual_seed(seed)
    loss = elbo.differentiable_loss(model, guide)
    return torch.stack(torch.autograd.grad(loss, params))


def _elbos():
    iwae = RenyiELBO(alpha=0.0, num_particles=K, vectorize_particles=True)
    dreg = RenyiELBO(alpha=0.0, num_particles=K, vectorize_particles=True, dreg=True)
    return iwae, dreg


def test_exact_posterior_guide_gets_zero_guide_gradient_on_every_draw():
    # Posterior of z given x: Normal((0.3 + 0.8) / 2, sqrt(1/2)).
    guide = make_guide(0.55, math.sqrt(0.5))
    iwae, dreg = _elbos()
    for seed in range(3):
        g_dreg = _grads(dreg, guide, seed)
        g_iwae = _grads(iwae, guide, seed)
        assert torch.allclose(g_dreg[:2], torch.zeros(2), atol=1e-5)
        assert g_iwae[:2].abs().max() > 1e-3  # the plain estimator is noisy there
        assert torch.allclose(g_dreg[2], g_iwae[2], atol=1e-5)  # model gradient unchanged


def test_value_is_the_iwae_bound():
    guide = make_guide(0.0, 1.5)
    iwae, dreg = _elbos()
    torch.manual_seed(4)
    a = iwae.loss(model, guide)
    torch.manual_seed(4)
    assert dreg.loss(model, guide) == pytest.approx(a, abs=1e-6)


def test_dreg_and_iwae_gradients_agree_in_expectation():
    # Same draws for both (common seeds), so the paired difference has small noise;
    # its mean is checked at 4.5 standard errors (false-alarm rate about 7e-6 per
    # coordinate).
    guide = make_guide(-0.4, 1.6)
    iwae, dreg = _elbos()
    diffs = torch.stack([_grads(dreg, guide, s) - _grads(iwae, guide, s) for s in range(80)])
    mean, se = diffs.mean(0), diffs.std(0) / math.sqrt(len(diffs))
    assert (mean.abs() <= 4.5 * se + 1e-6).all(), (mean, se)


def test_dreg_errors():
    with pytest.raises(ValueError, match="dreg=True is derived for the IWAE bound, alpha=0"):
        RenyiELBO(alpha=0.5, dreg=True)

    def discrete_guide():
        ppl.sample("z", Bernoulli(0.5))

    def discrete_model():
        ppl.sample("z", Bernoulli(0.5))

    elbo = RenyiELBO(alpha=0.0, num_particles=2, dreg=True)
    with pytest.raises(ValueError, match="guide site 'z' \\(Bernoulli\\) is not"):
        elbo.loss(discrete_model, discrete_guide)
