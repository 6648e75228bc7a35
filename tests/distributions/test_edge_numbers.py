"""Numbers at the edges: probabilities of exactly 0 or 1, huge logits, exact cdf steps, sizes.

Each expectation is a closed form (the derivative of the log-likelihood written
out by hand), torch.distributions where it is exact, or the small-size answer.
"""

import math

import pytest
import torch
import torch.distributions as td

from distributions import (
    Bernoulli,
    Binomial,
    ContinuousBernoulli,
    Gamma,
    Geometric,
    Multinomial,
    NegativeBinomial,
    Normal,
    Poisson,
    TransformedDistribution,
)
from distributions.transforms import AffineTransform
from distributions.utils import safe_xlogy


def grad_of(make, p, value):
    p = torch.tensor(p, dtype=torch.float64, requires_grad=True)
    lp = make(p).log_prob(torch.as_tensor(value, dtype=torch.float64))
    (g,) = torch.autograd.grad(lp.sum(), p)
    return lp.detach(), g


# (family, parameter, value, log_prob, d log_prob / d parameter), by hand.
EDGE_CASES = [
    ("Bernoulli p=0, x=0", lambda p: Bernoulli(probs=p), 0.0, 0.0, 0.0, -1.0),
    ("Bernoulli p=1, x=1", lambda p: Bernoulli(probs=p), 1.0, 1.0, 0.0, 1.0),
    ("Binomial p=0, x=0", lambda p: Binomial(5, probs=p), 0.0, 0.0, 0.0, -5.0),
    ("Binomial p=1, x=n", lambda p: Binomial(5, probs=p), 1.0, 5.0, 0.0, 5.0),
    ("Geometric p=1, x=0", lambda p: Geometric(probs=p), 1.0, 0.0, 0.0, 1.0),
    ("NegativeBinomial p=0, x=0", lambda p: NegativeBinomial(3.0, probs=p), 0.0, 0.0, 0.0, -3.0),
    ("Poisson rate=0, x=0", lambda p: Poisson(p), 0.0, 0.0, 0.0, -1.0),
]


@pytest.mark.parametrize(
    "name, make, p, value, lp, grad", EDGE_CASES, ids=[c[0] for c in EDGE_CASES]
)
def test_certain_outcomes_have_finite_exact_gradients(name, make, p, value, lp, grad):
    got_lp, got_grad = grad_of(make, p, value)
    assert got_lp.item() == lp
    assert got_grad.item() == grad


def test_multinomial_zero_probability_category_has_finite_gradient():
    probs = torch.tensor([0.0, 0.25, 0.75], dtype=torch.float64, requires_grad=True)
    lp = Multinomial(4, probs=probs).log_prob(torch.tensor([0.0, 1.0, 3.0], dtype=torch.float64))
    (g,) = torch.autograd.grad(lp, probs)
    # probs are normalized by their sum S = 1: d/dp_i sum_j x_j log(p_j / S) = x_i / p_i - n,
    # with x_i / p_i read as 0 for the zero category (x_0 = 0).
    assert torch.equal(g, torch.tensor([-4.0, 0.0, 0.0], dtype=torch.float64))


def test_impossible_outcomes_still_score_minus_infinity():
    assert Bernoulli(probs=torch.tensor(0.0)).log_prob(torch.tensor(1.0)).item() == -math.inf
    assert Binomial(3, probs=torch.tensor(1.0)).log_prob(torch.tensor(2.0)).item() == -math.inf


def test_safe_xlogy_value_and_gradient():
    x = torch.tensor([0.0, 0.0, 2.0, 0.0])
    y = torch.tensor([0.0, 0.5, 0.0, math.nan], requires_grad=True)
    out = safe_xlogy(x, y)
    assert out[:3].tolist() == [0.0, 0.0, -math.inf] and torch.isnan(out[3])
    (g,) = torch.autograd.grad(out[:2].sum(), y)
    assert g[:2].tolist() == [0.0, 0.0]


@pytest.mark.parametrize("logit", [1e38, -1e38, 1e30])
def test_continuous_bernoulli_huge_logits(logit):
    x = torch.tensor(logit, requires_grad=True)
    d = ContinuousBernoulli(logits=x)
    # For t = |eta| >> 1: entropy 1 - log t, mean 1 - 1/t (or 1/t), variance 1 / t^2.
    stats = {"entropy": d.entropy(), "mean": d.mean, "variance": d.variance}
    assert stats["entropy"].item() == pytest.approx(1 - math.log(abs(logit)), rel=1e-6)
    assert stats["mean"].item() == pytest.approx(1.0 if logit > 0 else 1 / -logit, rel=1e-6)
    for name, value in stats.items():
        (g,) = torch.autograd.grad(value, x, retain_graph=True)
        assert torch.isfinite(g), name
    lp = d.log_prob(torch.tensor(0.3))
    (g,) = torch.autograd.grad(lp, x)
    # d/deta (eta x - A(eta)) = x - mean.
    assert g.item() == pytest.approx(0.3 - stats["mean"].item(), abs=1e-6)


@pytest.mark.parametrize("logit", [-8.0, -3.0, 0.7, 5.0])
def test_continuous_bernoulli_statistics_match_torch(logit):
    # float64 and moderate logits: torch (which goes through probs) is exact to 1e-9 here.
    eta = torch.tensor(logit, dtype=torch.float64)
    ours, theirs = ContinuousBernoulli(logits=eta), td.ContinuousBernoulli(logits=eta)
    for name in ("mean", "variance"):
        torch.testing.assert_close(getattr(ours, name), getattr(theirs, name), rtol=1e-9, atol=0)
    torch.testing.assert_close(ours.entropy(), theirs.entropy(), rtol=1e-9, atol=1e-12)


def test_geometric_infinite_logits():
    d = Geometric(logits=torch.tensor(math.inf))
    assert d.log_prob(torch.tensor([0.0, 1.0])).tolist() == [0.0, -math.inf]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_geometric_icdf_inverts_cdf_at_exact_steps(dtype):
    d = Geometric(torch.tensor([0.3, 0.01, 0.9, 0.5, 1e-4], dtype=dtype).unsqueeze(-1))
    k = torch.arange(3000.0, dtype=dtype)
    c = d.cdf(k)
    # Where the rounded cdf still rises, k is the smallest count reaching cdf(k).
    rises = torch.cat([torch.ones_like(c[:, :1], dtype=torch.bool), c[:, 1:] > c[:, :-1]], 1)
    rises &= c < 1
    assert torch.equal(d.icdf(c)[rises], k.expand_as(c)[rises])
    d = Geometric(torch.tensor(0.3, dtype=dtype))
    k = torch.tensor([0.0, 1.0, 2.0, 5.0], dtype=dtype)
    assert d.icdf(d.cdf(k)).tolist() == k.tolist()  # was [0, 2, 2, 6]


def test_transformed_distribution_batch_widens_with_transform_parameters():
    transform = AffineTransform(torch.zeros(5), 1.0)
    ours = TransformedDistribution(Normal(0.0, 1.0), [transform])
    theirs = td.TransformedDistribution(
        td.Normal(0.0, 1.0), [td.AffineTransform(torch.zeros(5), 1.0)]
    )
    assert ours.batch_shape == theirs.batch_shape == (5,)
    x = ours.sample((7,))
    assert x.shape == (7, 5)
    # Independent draws along the widened dim, and log_prob of the base law.
    assert len(set(x[0].tolist())) == 5
    torch.testing.assert_close(ours.log_prob(x), Normal(0.0, 1.0).log_prob(x))


@pytest.mark.parametrize("n", [3, 2000])
def test_gamma_log_prob_answers_alike_at_every_size(n):
    d = Gamma(torch.full((n,), 2.0), 1.0, validate_args=False)
    assert torch.isnan(d.log_prob(-torch.ones(n))).all()
    unit = Gamma(torch.ones(n), 1.0, validate_args=False)
    assert torch.equal(unit.log_prob(torch.zeros(n)), torch.zeros(n))
