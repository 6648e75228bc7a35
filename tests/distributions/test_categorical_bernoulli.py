"""Categorical and Bernoulli beyond the generic table: edges, cdf/icdf, samplers."""

import numpy as np
import pytest
import scipy.stats
import torch
import torch.distributions as tdist

import distributions as dist


def test_bernoulli_impossible_outcomes_score_minus_infinity():
    assert dist.Bernoulli(probs=torch.tensor(0.0)).log_prob(torch.tensor(1.0)).item() == -np.inf
    assert dist.Bernoulli(probs=torch.tensor(1.0)).log_prob(torch.tensor(0.0)).item() == -np.inf
    assert dist.Bernoulli(probs=torch.tensor(1.0)).log_prob(torch.tensor(1.0)).item() == 0.0


def test_bernoulli_probs_log_prob_is_the_same_checked_or_not():
    # Checked values (0 or 1) take a one-where form, unchecked ones the
    # cross-entropy form: values and probs-gradients agree, at the edges too,
    # and match torch (away from the edges, where torch clamps).
    probs = torch.tensor([0.0, 0.0, 1.0, 1.0, 0.3, 0.3, 0.9], dtype=torch.float64)
    value = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0], dtype=torch.float64)
    out = {}
    for checked in (True, False):
        p = probs.clone().requires_grad_()
        lp = dist.Bernoulli(probs=p, validate_args=checked).log_prob(value)
        grad = torch.autograd.grad(lp[lp.isfinite()].sum(), p)[0]
        out[checked] = (lp.detach(), grad)
    for a, b in zip(out[True], out[False]):
        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)
    assert out[True][0][[1, 2]].tolist() == [-np.inf, -np.inf]
    # Finite where the outcome is possible at p = 0 and 1 (the impossible ones
    # are -inf, differentiated as 0/0 in both forms).
    assert out[True][1][[0, 3]].tolist() == [-1.0, 1.0]
    torch_lp = tdist.Bernoulli(probs=probs[4:]).log_prob(value[4:])
    assert torch.allclose(out[True][0][4:], torch_lp)


def test_unchecked_bernoulli_scores_values_between_0_and_1():
    # With validation off a relaxed target (a soft label) is the cross-entropy.
    p = torch.tensor(0.3, dtype=torch.float64)
    lp = dist.Bernoulli(probs=p, validate_args=False).log_prob(torch.tensor(0.25, dtype=p.dtype))
    assert lp.item() == pytest.approx(0.25 * np.log(0.3) + 0.75 * np.log(0.7), rel=1e-12)


def test_bernoulli_cdf_icdf_against_scipy():
    p = torch.tensor([0.2, 0.7], dtype=torch.float64)
    d = dist.Bernoulli(probs=p)
    for v in (-0.5, 0.0, 0.5, 1.0, 2.0):
        value = torch.full((2,), v, dtype=torch.float64)
        np.testing.assert_allclose(d.cdf(value), scipy.stats.bernoulli(p.numpy()).cdf(v))
    for q in (0.1, 0.5, 0.9):
        value = torch.full((2,), q, dtype=torch.float64)
        np.testing.assert_allclose(d.icdf(value), scipy.stats.bernoulli(p.numpy()).ppf(q))


def test_categorical_cdf_icdf_against_scipy():
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    d = dist.Categorical(probs=probs)
    ref = scipy.stats.rv_discrete(values=(np.arange(4), probs.numpy()))
    values = torch.tensor([-1.0, 0.0, 1.5, 2.0, 3.0, 7.0], dtype=torch.float64)
    np.testing.assert_allclose(d.cdf(values), ref.cdf(values.numpy()))
    q = torch.tensor([0.05, 0.1, 0.25, 0.6, 0.99], dtype=torch.float64)
    np.testing.assert_allclose(d.icdf(q), ref.ppf(q.numpy()))


def test_categorical_errors_name_the_problem():
    with pytest.raises(ValueError, match="pass exactly one of probs or logits"):
        dist.Categorical()
    with pytest.raises(ValueError, match="needs a last dim of categories"):
        dist.Categorical(probs=torch.tensor(1.0))
    with pytest.raises(ValueError, match=r"argument 'probs'.*a probability vector"):
        dist.Categorical(probs=torch.tensor([0.5, -0.5, 1.0]))


def test_categorical_many_categories_chi_square():
    # 1e5 draws over 1e3 categories with Dirichlet(1) probabilities; the
    # chi-square test's false-alarm rate is 1e-4 and the seed is fixed.
    torch.manual_seed(0)
    probs = torch.distributions.Dirichlet(torch.ones(1000)).sample().double()
    x = dist.Categorical(probs=probs).sample((100_000,))
    counts = torch.bincount(x, minlength=1000).double()
    expected = probs * 100_000
    keep = expected > 5
    stat = ((counts[keep] - expected[keep]) ** 2 / expected[keep]).sum().item()
    p = scipy.stats.chi2(int(keep.sum()) - 1).sf(stat)
    assert p > 1e-4


def test_categorical_batched_sampling_matches_torch_frequencies():
    torch.manual_seed(1)
    logits = torch.tensor([[0.0, 2.0, -1.0], [1.0, 1.0, 1.0]])
    x = dist.Categorical(logits=logits).sample((20_000,))
    assert x.shape == (20_000, 2)
    freq = torch.stack([torch.bincount(x[:, i], minlength=3) for i in range(2)]).float() / 20_000
    # 20k draws: standard error below 0.0036 per frequency; 0.02 is > 5 sigma.
    torch.testing.assert_close(freq, torch.softmax(logits, -1), atol=0.02, rtol=0)


def test_enumerate_support_matches_torch():
    for ours, ref in [
        (dist.Categorical(logits=torch.zeros(2, 3)), tdist.Categorical(logits=torch.zeros(2, 3))),
        (dist.Bernoulli(probs=torch.full((2,), 0.3)), tdist.Bernoulli(probs=torch.full((2,), 0.3))),
    ]:
        for expand in (True, False):
            assert torch.equal(ours.enumerate_support(expand), ref.enumerate_support(expand))


def test_log_prob_broadcasts_values_against_batch():
    d = dist.Categorical(logits=torch.randn(3, 4))
    value = torch.tensor([[0], [1]]).expand(2, 3)
    ref = tdist.Categorical(logits=d.logits)
    torch.testing.assert_close(d.log_prob(value), ref.log_prob(value))


def test_straight_through_gradient_is_the_probs_gradient():
    logits = torch.tensor([0.2, -0.4, 1.0], requires_grad=True)
    draw = dist.OneHotCategoricalStraightThrough(logits=logits).rsample()
    assert draw.detach().sum().item() == 1.0
    (draw * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    expected_logits = logits.detach().clone().requires_grad_()
    (torch.softmax(expected_logits, -1) * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    torch.testing.assert_close(logits.grad, expected_logits.grad)


def test_geometric_sampler_cdf_and_icdf_against_scipy():
    # 50k draws, chi-square over bins with expected count > 5; false-alarm rate 1e-4.
    torch.manual_seed(2)
    p = torch.tensor(0.3, dtype=torch.float64)
    x = dist.Geometric(p).sample((50_000,)).long()
    values, counts = torch.unique(x, return_counts=True)
    expected = torch.as_tensor(scipy.stats.geom(0.3, loc=-1).pmf(values.numpy())) * 50_000
    keep = expected > 5
    stat = ((counts[keep] - expected[keep]) ** 2 / expected[keep]).sum().item()
    assert scipy.stats.chi2(int(keep.sum()) - 1).sf(stat) > 1e-4
    q = torch.tensor([0.05, 0.3, 0.5, 0.9, 0.999], dtype=torch.float64)
    np.testing.assert_allclose(
        dist.Geometric(p).icdf(q), scipy.stats.geom(0.3, loc=-1).ppf(q.numpy())
    )
    k = torch.tensor([-1.0, 0.0, 2.5, 10.0], dtype=torch.float64)
    np.testing.assert_allclose(
        dist.Geometric(p).cdf(k), scipy.stats.geom(0.3, loc=-1).cdf(k.numpy())
    )
    with pytest.raises(ValueError, match="'probs' must be > 0"):
        dist.Geometric(torch.tensor(0.0))
