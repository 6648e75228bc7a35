"""Multinomial: both samplers against exact pmfs, mode and entropy by enumeration, errors."""

import itertools
import math

import numpy as np
import pytest
import scipy.stats
import torch

import distributions as dist
from tests.distributions.test_negative_binomial import grouped_chi_square_pvalue

F64 = torch.float64


def _t(values, dtype=F64):
    return torch.tensor(values, dtype=dtype)


def _outcomes(n, k):
    """Every count vector of length ``k`` summing to ``n``."""
    return _t([x for x in itertools.product(range(n + 1), repeat=k) if sum(x) == n])


@pytest.mark.parametrize(
    "n, probs, seed",
    [(40, [0.1, 0.2, 0.3, 0.4], 0), (2, [1 / 12] * 12, 1), (100_000, [0.7, 0.2, 0.1], 2)],
    ids=["binomials", "counting", "large-count"],
)
def test_marginal_count_against_binomial_pmf(n, probs, seed):
    # 20k draws; the second category's counts against Binomial(n, p_1), tail bins
    # grouped to expected counts >= 5; false-alarm rate 1e-4 per case (seed fixed).
    torch.manual_seed(seed)
    x = dist.Multinomial(n, probs=_t(probs)).sample((20_000,))
    assert bool((x.sum(-1) == n).all())
    pmf = scipy.stats.binom(n, probs[1]).pmf(np.arange(n + 1))
    assert grouped_chi_square_pvalue(x[:, 1].long().numpy(), pmf) > 1e-4


@pytest.mark.parametrize("n, k", [(4, 3), (2, 9)], ids=["binomials", "counting"])
def test_joint_counts_against_multinomial_pmf(n, k):
    # 20k draws over every outcome (each expects >= 30 draws); chi-square
    # false-alarm rate 1e-4 (seed fixed).
    torch.manual_seed(3)
    probs = torch.linspace(1.0, 2.0, k, dtype=F64)
    probs = probs / probs.sum()
    x = dist.Multinomial(n, probs=probs).sample((20_000,))
    outcomes = _outcomes(n, k)
    observed = (x[:, None, :] == outcomes).all(-1).sum(0).numpy()
    assert observed.sum() == 20_000
    expected = 20_000 * scipy.stats.multinomial(n, probs.numpy()).pmf(outcomes.numpy())
    assert expected.min() > 30
    assert scipy.stats.chisquare(observed, expected).pvalue > 1e-4


def test_sample_is_flat_in_total_count_and_batches():
    torch.manual_seed(0)
    probs = _t([[0.5, 0.5, 0.0], [0.1, 0.1, 0.8]])
    x = dist.Multinomial(10**9, probs=probs).sample((1000,))
    assert x.shape == (1000, 2, 3)
    assert bool((x.sum(-1) == 10**9).all()) and bool((x[..., 0, 2] == 0).all())
    # Relative sd of a category's mean count over 1000 draws is below 1e-5 here.
    torch.testing.assert_close(x.mean(0) / 10**9, probs, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("probs", [[0.2, 0.3, 0.5], [0.0, 0.45, 0.55], [0.6, 0.25, 0.15]])
def test_mode_by_enumeration(probs):
    for n in range(9):
        d = dist.Multinomial(n, probs=_t(probs))
        outcomes = _outcomes(n, 3)
        best = d.log_prob(outcomes).max()
        assert d.mode.sum().item() == n
        assert d.log_prob(d.mode).item() == pytest.approx(best.item(), abs=1e-12)


def test_entropy_by_enumeration():
    # torch evaluates log n! through float32 lgamma, so it is off by about 1e-6 at n = 30.
    probs = _t([[0.2, 0.3, 0.5], [0.0, 0.4, 0.6]])
    for n in (0, 1, 4, 30):
        d = dist.Multinomial(n, probs=probs)
        lp = d.log_prob(_outcomes(n, 3)[:, None, :])
        exact = -(lp.exp() * lp).nan_to_num().sum(0)
        torch.testing.assert_close(d.entropy(), exact, rtol=1e-12, atol=1e-12)


def test_zero_probabilities_score_exactly():
    d = dist.Multinomial(3, probs=_t([0.0, 0.5, 0.5]))
    assert d.log_prob(_t([1.0, 1.0, 1.0])).item() == -math.inf
    assert d.log_prob(_t([0.0, 2.0, 1.0])).item() == pytest.approx(math.log(3 / 8))
    by_logits = dist.Multinomial(3, logits=_t([-math.inf, 0.0, 0.0]))
    assert by_logits.log_prob(_t([0.0, 2.0, 1.0])).item() == pytest.approx(math.log(3 / 8))


def test_log_prob_reads_the_count_from_the_value_as_torch():
    probs = _t([0.2, 0.8])
    value = _t([3.0, 4.0])
    ours = dist.Multinomial(probs=probs, validate_args=False).log_prob(value)
    ref = torch.distributions.Multinomial(probs=probs, validate_args=False).log_prob(value)
    torch.testing.assert_close(ours, ref)
    with pytest.raises(ValueError, match="outside the support"):
        dist.Multinomial(probs=probs).log_prob(value)


def test_expand_keeps_count_and_parameters():
    d = dist.Multinomial(5, logits=_t([0.0, 1.0, 2.0])).expand((4,))
    assert d.batch_shape == (4,) and d.event_shape == (3,) and d.total_count == 5
    assert d.sample((2,)).shape == (2, 4, 3)
    torch.testing.assert_close(d.mean, 5 * torch.softmax(_t([0.0, 1.0, 2.0]), -1).expand(4, 3))


def test_errors_name_the_argument():
    probs = _t([0.5, 0.5])
    with pytest.raises(ValueError, match=r"'total_count' of shape \(3,\) does not broadcast"):
        dist.Multinomial(_t([1.0, 2.0, 3.0]), probs=_t([[0.5, 0.5], [0.2, 0.8]]))
    with pytest.raises(TypeError, match="'total_count' must be a python int or a tensor"):
        dist.Multinomial(2.0, probs=probs)
    with pytest.raises(ValueError, match="'total_count' must be a non-negative integer, got -1"):
        dist.Multinomial(-1, probs=probs)
    with pytest.raises(ValueError, match="'total_count' must be a non-negative integer, got 1.5"):
        dist.Multinomial(_t([2.0, 1.5]), probs=probs)
    with pytest.raises(ValueError, match="'probs' needs a last dim of categories, got a 0-d"):
        dist.Multinomial(2, probs=_t(0.5))
    with pytest.raises(ValueError, match="exactly one of probs or logits"):
        dist.Multinomial(2, probs=probs, logits=probs)
    with pytest.raises(ValueError, match="argument 'probs' must satisfy"):
        dist.Multinomial(2, probs=_t([-0.5, 1.5]))
    with pytest.raises(ValueError, match=r"does not end in the event shape \(2,\)"):
        dist.Multinomial(2, probs=probs).log_prob(_t([1.0, 1.0, 0.0]))


def test_binomial_sampler_batches_under_vmap():
    def draw(probs):
        return dist.Multinomial(6, probs=probs, validate_args=False).sample((5,))

    x = torch.vmap(draw, randomness="different")(_t([[0.2, 0.8], [1.0, 0.0]]))
    assert x.shape == (2, 5, 2) and bool((x.sum(-1) == 6).all()) and bool((x[1, :, 1] == 0).all())


INHOMOGENEOUS = (_t([3.0, 12.0, 0.0]), _t([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3], [0.5, 0.25, 0.25]]))


def test_inhomogeneous_total_count_matches_scipy_per_element():
    n, probs = INHOMOGENEOUS
    d = dist.Multinomial(n, probs=probs)
    assert d.batch_shape == (3,) and d.event_shape == (3,)
    value = _t([[1.0, 0.0, 2.0], [5.0, 3.0, 4.0], [0.0, 0.0, 0.0]])
    frozen = [scipy.stats.multinomial(int(k), p.numpy()) for k, p in zip(n, probs)]
    torch.testing.assert_close(
        d.log_prob(value), _t([float(f.logpmf(v.numpy())) for f, v in zip(frozen, value)])
    )
    torch.testing.assert_close(d.entropy(), _t([float(f.entropy()) for f in frozen]))
    torch.testing.assert_close(d.mean, n[:, None] * probs)
    torch.testing.assert_close(d.variance, n[:, None] * probs * (1 - probs))
    assert torch.equal(d.mode.sum(-1), n)
    with pytest.raises(ValueError, match="outside the support"):
        d.log_prob(_t([[1.0, 0.0, 2.0], [5.0, 3.0, 4.0], [0.0, 1.0, 0.0]]))


def test_inhomogeneous_total_count_sampler_against_binomial_marginals():
    # 20k draws per element; the first category's counts against Binomial(n_b, p_b0),
    # tail bins grouped; false-alarm rate 1e-4 per element (seed fixed).
    torch.manual_seed(4)
    n, probs = INHOMOGENEOUS
    x = dist.Multinomial(n, probs=probs).expand((2, 3)).sample((10_000,)).reshape(-1, 3, 3)
    assert torch.equal(x.sum(-1), n.expand(20_000, 3))
    for b in range(2):
        pmf = scipy.stats.binom(int(n[b]), probs[b, 0].item()).pmf(np.arange(int(n[b]) + 1))
        assert grouped_chi_square_pvalue(x[:, b, 0].long().numpy(), pmf) > 1e-4


@pytest.mark.parametrize("n, k", [(4, 3), (0, 2), (3, 1), (2, 5)])
def test_enumerate_support_lists_every_outcome_once(n, k):
    d = dist.Multinomial(n, probs=torch.full((2, k), 1.0 / k, dtype=F64))
    values = d.enumerate_support()
    assert values.shape[1:] == (2, k)
    assert sorted(map(tuple, values[:, 0].tolist())) == sorted(map(tuple, _outcomes(n, k).tolist()))
    torch.testing.assert_close(d.log_prob(values).exp().sum(0), torch.ones(2, dtype=F64))
    assert d.enumerate_support(expand=False).shape == (values.shape[0], 1, k)
    with pytest.raises(ValueError, match="total_count differs across the batch"):
        dist.Multinomial(_t([1.0, 2.0]), probs=torch.full((2, k), 1.0 / k)).enumerate_support()
