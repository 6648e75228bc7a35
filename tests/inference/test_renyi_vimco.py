"""RenyiELBO and VIMCO against hand-computed bounds and exact enumeration.

The gradient tests enumerate every joint value of the K samples of a binary
latent: the bound's expectation and the estimator's mean are then finite sums,
so unbiasedness is checked to float precision rather than statistically.
"""

import itertools
import math

import pytest
import torch

import ppl
from distributions import Bernoulli, Normal
from inference.renyi_elbo import RenyiELBO
from inference.vimco import VIMCO, leave_one_out_bounds
from ppl.handlers import substitute

K = 3
X = torch.tensor(0.5)


def normal_model():
    z = ppl.sample("z", Normal(0.0, 1.0))
    ppl.sample("x", Normal(z, 1.0), obs=X)


def _vectorized(cls, **kwargs):
    return cls(num_particles=K, vectorize_particles=True, max_plate_nesting=0, **kwargs)


@pytest.mark.parametrize("alpha", [0.0, 0.5, -1.0])
def test_renyi_bound_equals_the_hand_computation(alpha):
    zs = torch.tensor([-0.3, 0.4, 1.5])

    def guide():
        ppl.sample("z", Normal(0.2, 1.2))

    fixed = substitute(guide, data={"z": zs})
    value = -RenyiELBO(alpha=alpha, num_particles=K, vectorize_particles=True).loss(
        normal_model, fixed
    )
    log_w = Normal(0.0, 1.0).log_prob(zs) + Normal(zs, 1.0).log_prob(X)
    log_w = log_w - Normal(0.2, 1.2).log_prob(zs)
    by_hand = math.log(((1 - alpha) * log_w).exp().mean()) / (1 - alpha)
    assert value == pytest.approx(by_hand, abs=1e-5)


def test_iwae_tends_to_the_log_evidence():
    # log p(x) = log N(x; 0, sqrt 2). With 20000 samples the bound's bias and its
    # noise are both below 1e-3 here (Var(w)/w^2 ~ 0.3); 0.01 is a ten-sigma margin.
    log_evidence = float(Normal(0.0, math.sqrt(2.0)).log_prob(X))

    def guide():
        ppl.sample("z", Normal(0.2, 1.2))

    def bound(k):
        return -RenyiELBO(alpha=0.0, num_particles=k, vectorize_particles=True).loss(
            normal_model, guide
        )

    assert bound(20000) == pytest.approx(log_evidence, abs=0.01)
    elbo = torch.tensor([bound(1) for _ in range(200)]).mean()
    assert elbo < log_evidence - 0.02  # the one-sample bound is visibly looser


def discrete_model():
    z = ppl.sample("z", Bernoulli(0.3))
    ppl.sample("x", Normal(2.0 * z, 1.0), obs=X)


def discrete_guide():
    theta = ppl.param("theta", torch.tensor(0.4))
    ppl.sample("z", Bernoulli(torch.sigmoid(theta)))


def _log_w(zs, theta):
    return (
        Bernoulli(0.3).log_prob(zs)
        + Normal(2.0 * zs, 1.0).log_prob(X)
        - Bernoulli(torch.sigmoid(theta)).log_prob(zs)
    )


def _estimator_moments(objective):
    # Mean and variance of the gradient estimate over all 2^K joint draws.
    objective.loss(discrete_model, discrete_guide)  # creates theta
    theta = ppl.get_param_store()["theta"]
    q = torch.sigmoid(theta).detach()
    mean, second = 0.0, 0.0
    for combo in itertools.product([0.0, 1.0], repeat=K):
        zs = torch.tensor(combo)
        prob = torch.where(zs > 0, q, 1 - q).prod()
        loss = objective.differentiable_loss(
            discrete_model, substitute(discrete_guide, data={"z": zs})
        )
        (grad,) = torch.autograd.grad(-loss, [theta])
        mean, second = mean + prob * grad, second + prob * grad**2
    return theta, mean, second - mean**2


def _exact_gradient(theta, alpha):
    theta = theta.detach().requires_grad_()
    q = torch.sigmoid(theta)
    expected = 0.0
    for combo in itertools.product([0.0, 1.0], repeat=K):
        zs = torch.tensor(combo)
        prob = torch.where(zs > 0, q, 1 - q).prod()
        scaled = (1 - alpha) * _log_w(zs, theta)
        expected = expected + prob * (torch.logsumexp(scaled, 0) - math.log(K)) / (1 - alpha)
    return torch.autograd.grad(expected, [theta])[0]


@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_renyi_score_function_gradient_is_unbiased(alpha):
    theta, mean, _ = _estimator_moments(_vectorized(RenyiELBO, alpha=alpha))
    assert torch.allclose(mean, _exact_gradient(theta, alpha), atol=1e-5)


def test_vimco_gradient_is_unbiased_for_the_multi_sample_bound():
    theta, mean, _ = _estimator_moments(_vectorized(VIMCO))
    assert torch.allclose(mean, _exact_gradient(theta, 0.0), atol=1e-5)


def test_vimco_has_lower_variance_than_the_plain_score_function():
    _, _, var_vimco = _estimator_moments(_vectorized(VIMCO))
    _, _, var_iwae = _estimator_moments(_vectorized(RenyiELBO, alpha=0.0))
    assert var_vimco < 0.5 * var_iwae


def test_sequential_particles_give_the_same_bound_value():
    zs = [torch.tensor(v) for v in (0.0, 1.0, 1.0)]
    values = iter(zs)

    def guide():
        theta = ppl.param("theta", torch.tensor(0.4))
        ppl.sample("z", Bernoulli(torch.sigmoid(theta)))

    def fixed_guide():
        return substitute(guide, data={"z": next(values)})()

    value = -VIMCO(num_particles=K).loss(discrete_model, fixed_guide)
    log_w = _log_w(torch.stack(zs), torch.tensor(0.4))
    assert value == pytest.approx(float(torch.logsumexp(log_w, 0) - math.log(K)), abs=1e-5)


def test_leave_one_out_bounds_by_hand():
    log_w = torch.tensor([0.1, -0.5, 2.0])
    loo = leave_one_out_bounds(log_w)
    replaced = log_w.clone()
    replaced[1] = (0.1 + 2.0) / 2
    assert loo[1] == pytest.approx(float(torch.logsumexp(replaced, 0) - math.log(3)), abs=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="alpha=1 is the ordinary ELBO"):
        RenyiELBO(alpha=1.0)
    with pytest.raises(ValueError, match="VIMCO: num_particles must be an int >= 2"):
        VIMCO(num_particles=1)
    with pytest.raises(ValueError, match="RenyiELBO: num_particles must be an int >= 1"):
        RenyiELBO(num_particles=0)
