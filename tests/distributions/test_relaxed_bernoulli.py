"""Binary Concrete: LogitRelaxedBernoulli against torch, the samplers, the density formula."""

import math

import numpy as np
import pytest
import scipy.stats
import torch
from torch.distributions import relaxed_bernoulli as ref_module

import distributions as dist

F64 = torch.float64


@pytest.mark.parametrize("dtype", [F64, torch.float32], ids=str)
@pytest.mark.parametrize("param", ["probs", "logits"])
def test_logit_relaxed_bernoulli_matches_torch(param, dtype):
    values = {"probs": [[0.1, 0.5], [0.7, 0.95]], "logits": [[-2.0, 0.0], [0.8, 3.0]]}[param]
    kwargs = {param: torch.tensor(values, dtype=dtype)}
    t = torch.tensor(0.6, dtype=dtype)
    ours = dist.LogitRelaxedBernoulli(t, **kwargs)
    ref = ref_module.LogitRelaxedBernoulli(t, **kwargs)
    torch.manual_seed(0)
    x = ref.sample((5,))
    tol = 1e-10 if dtype == F64 else 1e-5
    torch.testing.assert_close(ours.log_prob(x), ref.log_prob(x), rtol=tol, atol=tol)
    torch.testing.assert_close(ours.probs, ref.probs)
    torch.testing.assert_close(ours.logits, ref.logits)
    assert ours.batch_shape == ref.batch_shape and ours.param_shape == ref.param_shape
    assert ours.sample((3,)).shape == ref.sample((3,)).shape
    assert ours.expand((4, 2, 2)).log_prob(x[0]).shape == (4, 2, 2)
    assert ours.has_rsample and bool(ours.support.check(x).all())


def test_relaxed_density_is_the_papers_formula():
    # Maddison et al. 2017, eq. 23: t a y^(-t-1) (1-y)^(-t-1) / (a y^(-t) + (1-y)^(-t))^2,
    # with a = exp(logits); an oracle independent of the sigmoid change of variables.
    t, logits = 0.4, torch.tensor([-1.5, 0.0, 2.0], dtype=F64)
    y = torch.tensor([[0.01], [0.3], [0.5], [0.97]], dtype=F64)
    a = logits.exp()
    density = t * a * (y * (1 - y)).pow(-t - 1) / (a * y.pow(-t) + (1 - y).pow(-t)).pow(2)
    ours = dist.RelaxedBernoulli(torch.tensor(t, dtype=F64), logits=logits).log_prob(y)
    torch.testing.assert_close(ours, density.log())


def test_probability_above_one_half_is_probs():
    # P(x > 1/2) = probs at every temperature. 20000 draws per probability;
    # each two-sided binomial test has a false-alarm rate of 1e-4 (seed fixed).
    torch.manual_seed(4)
    probs = torch.tensor([0.1, 0.5, 0.8], dtype=F64)
    n = 20_000
    x = dist.RelaxedBernoulli(torch.tensor(0.1, dtype=F64), probs=probs).sample((n,))
    for k, p in zip((x > 0.5).sum(0).tolist(), probs.tolist()):
        assert scipy.stats.binomtest(k, n, p).pvalue > 1e-4, (k, n, p)


def test_small_temperature_concentrates_near_zero_and_one():
    # At t = 0.05 the share of draws inside (0.05, 0.95) is the exact
    # cdf(0.95) - cdf(0.05), about 6% here; binomial test, false-alarm rate 1e-4.
    torch.manual_seed(5)
    d = dist.RelaxedBernoulli(torch.tensor(0.05, dtype=F64), probs=torch.tensor(0.3, dtype=F64))
    n = 20_000
    x = d.sample((n,))
    inside = ((x > 0.05) & (x < 0.95)).sum().item()
    edges = torch.tensor([0.05, 0.95], dtype=F64)
    lo, hi = d.cdf(edges).tolist()
    assert hi - lo < 0.07
    assert scipy.stats.binomtest(inside, n, hi - lo).pvalue > 1e-4
    assert bool(((x > 0) & (x < 1)).all())


def test_logit_sampler_against_its_closed_form_cdf():
    # The cdf is sigmoid(t x - logits) (logistic noise pushed through x = (l + L) / t).
    # 4000 draws per element, each KS test with a false-alarm rate of 1e-4 (seed fixed).
    torch.manual_seed(6)
    t = torch.tensor([0.2, 1.0, 3.0], dtype=F64)
    d = dist.LogitRelaxedBernoulli(t, logits=torch.tensor([1.0, -0.5, 2.0], dtype=F64))
    x = d.sample((4000,))
    for j in range(3):
        one = dist.LogitRelaxedBernoulli(t[j], logits=d.logits[j])

        def cdf(v, one=one):
            return one.cdf(torch.as_tensor(v)).numpy()

        assert scipy.stats.kstest(x[:, j].numpy(), cdf).pvalue > 1e-4


def test_tensor_temperature_broadcasts_per_batch_element():
    t = torch.tensor([[0.3], [1.5]], dtype=F64)
    probs = torch.tensor([0.2, 0.6, 0.9], dtype=F64)
    d = dist.RelaxedBernoulli(t, probs=probs)
    assert d.batch_shape == (2, 3) and d.sample((4,)).shape == (4, 2, 3)
    y = torch.tensor([0.1, 0.5, 0.8], dtype=F64)
    for i in range(2):
        ref = ref_module.RelaxedBernoulli(t[i, 0], probs=probs)
        torch.testing.assert_close(d.log_prob(y)[i], ref.log_prob(y))
    assert d.expand((5, 2, 3)).sample().shape == (5, 2, 3)


def test_log_prob_stays_finite_far_in_the_tails():
    # torch forms exp(logits - t x) and overflows to -inf in float32.
    d = dist.LogitRelaxedBernoulli(torch.tensor(1.0), logits=torch.tensor(0.0))
    lp = d.log_prob(torch.tensor([-100.0, 100.0]))
    torch.testing.assert_close(lp, torch.tensor([-100.0, -100.0]))


def test_rsample_gradients_and_vmap():
    logits = torch.tensor([0.3, -1.0], requires_grad=True)
    t = torch.tensor(0.5, requires_grad=True)
    y = dist.RelaxedBernoulli(t, logits=logits).rsample((10,))
    g_logits, g_t = torch.autograd.grad(y.sum(), [logits, t])
    assert bool((g_logits > 0).all()) and math.isfinite(g_t.item())
    d = dist.RelaxedBernoulli(torch.tensor(0.5), logits=torch.zeros(2))
    x = torch.vmap(lambda s: d.rsample((3,)) * s, randomness="different")(torch.ones(4))
    assert x.shape == (4, 3, 2)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"RelaxedBernoulli: pass exactly one of probs or logits"):
        dist.RelaxedBernoulli(torch.tensor(1.0), probs=0.5, logits=0.0)
    with pytest.raises(ValueError, match=r"LogitRelaxedBernoulli: pass exactly one of probs"):
        dist.LogitRelaxedBernoulli(torch.tensor(1.0))
    with pytest.raises(ValueError, match=r"argument 'temperature' must satisfy"):
        dist.RelaxedBernoulli(torch.tensor(-1.0), probs=0.5)
    with pytest.raises(ValueError, match=r"argument 'probs' must satisfy"):
        dist.RelaxedBernoulli(torch.tensor(1.0), probs=1.5)
    with pytest.raises(ValueError, match=r"RelaxedBernoulli: temperature of shape \(2,\)"):
        dist.RelaxedBernoulli(torch.ones(2), probs=torch.full((3,), 0.5))
    with pytest.raises(ValueError, match=r"outside the support"):
        dist.RelaxedBernoulli(torch.tensor(1.0), probs=0.5).log_prob(torch.tensor(1.5))


def test_moments_of_the_logit_are_logistic():
    t, logits = 0.8, np.array([-1.0, 0.5])
    d = dist.LogitRelaxedBernoulli(torch.tensor(t, dtype=F64), logits=torch.as_tensor(logits))
    ref = scipy.stats.logistic(logits / t, 1 / t)
    np.testing.assert_allclose(d.mean.numpy(), ref.mean(), rtol=1e-12)
    np.testing.assert_allclose(d.variance.numpy(), ref.var(), rtol=1e-12)
    np.testing.assert_allclose(d.entropy().numpy(), ref.entropy(), rtol=1e-12)
    np.testing.assert_allclose(d.mode.numpy(), ref.median(), rtol=1e-12)
