"""NegativeBinomial: sampler, cdf/icdf against scipy, edges, inhomogeneous counts, errors.

scipy's ``nbinom(n, p)`` counts failures before ``n`` successes of probability
``p``; ours (as torch's) counts successes of probability ``probs`` before
``total_count`` failures, so scipy's ``p`` is ``1 - probs``.
"""

import math

import numpy as np
import pytest
import scipy.special
import scipy.stats
import torch

import distributions as dist

F64 = torch.float64


def _t(values, dtype=F64):
    return torch.tensor(values, dtype=dtype)


def grouped_chi_square_pvalue(draws, pmf, min_expected=5.0):
    """Chi-square p-value of integer ``draws`` against ``pmf`` over ``0..len(pmf)-1``.

    The last entry of ``pmf`` must hold the whole right tail (draws beyond it
    are counted there). Neighbouring values are merged left to right until each
    bin expects at least ``min_expected`` draws; a short remainder joins the
    last bin.
    """
    n = len(draws)
    counts = np.bincount(np.minimum(draws, len(pmf) - 1), minlength=len(pmf))
    expected = pmf * n
    starts, acc = [0], 0.0
    for k, e in enumerate(expected):
        acc += e
        if acc >= min_expected and k + 1 < len(expected):
            starts.append(k + 1)
            acc = 0.0
    if acc < min_expected and len(starts) > 1:
        starts.pop()  # the tail was too light to stand alone
    obs = np.add.reduceat(counts, starts)
    exp = np.add.reduceat(expected, starts)
    stat = ((obs - exp) ** 2 / exp).sum()
    return scipy.stats.chi2(len(starts) - 1).sf(stat)


def _nbinom_pmf_with_tail(r, p, tail=1e-10):
    ref = scipy.stats.nbinom(r, 1 - p)
    k_max = int(ref.ppf(1 - tail))
    pmf = ref.pmf(np.arange(k_max + 1))
    pmf[-1] += ref.sf(k_max)
    return pmf


@pytest.mark.parametrize(
    "r, p, seed",
    [(5.0, 0.3, 0), (0.4, 0.8, 1), (50.0, 1e4 / (1e4 + 50.0), 2)],
    ids=["small", "fractional-count", "mean-1e4"],
)
def test_sampler_chi_square_against_exact_pmf(r, p, seed):
    # 50k draws, tail bins grouped to expected counts >= 5; each chi-square test
    # has a false-alarm rate of 1e-4 under a correct sampler (seed fixed).
    torch.manual_seed(seed)
    x = dist.NegativeBinomial(_t(r), probs=_t(p)).sample((50_000,))
    assert x.dtype == F64 and bool((x == x.round()).all())
    pvalue = grouped_chi_square_pvalue(x.long().numpy(), _nbinom_pmf_with_tail(r, p))
    assert pvalue > 1e-4, f"chi-square p-value {pvalue:.2e}"


def test_chi_square_helper_rejects_a_wrong_law():
    # The same test must fail when the sampler's convention is flipped (p <-> 1 - p).
    torch.manual_seed(0)
    x = dist.NegativeBinomial(_t(5.0), probs=_t(0.3)).sample((50_000,))
    assert grouped_chi_square_pvalue(x.long().numpy(), _nbinom_pmf_with_tail(5.0, 0.35)) < 1e-4


def test_sampler_is_flat_in_the_number_of_draws():
    # A draws x support tensor at mean 1e4 would need about 1e6 x 4e4 doubles.
    torch.manual_seed(0)
    d = dist.NegativeBinomial(_t(50.0), probs=_t(1e4 / (1e4 + 50.0)))
    x = d.sample((1_000_000,))
    assert x.shape == (1_000_000,)
    assert abs(x.mean().item() / 1e4 - 1) < 0.01  # sd of the mean is 0.14% of 1e4


def test_cdf_matches_scipy_to_1e_6():
    r = _t([[5.0], [0.3], [2.5], [50.0]])
    p = _t([0.3, 0.9, 0.995])
    k = _t([-1.0, 0.0, 0.5, 1.0, 3.0, 17.0, 250.0, 9_999.0, 40_000.0])[:, None, None]
    ours = dist.NegativeBinomial(r, probs=p).cdf(k)
    ref = scipy.stats.nbinom(r.numpy(), 1 - p.numpy()).cdf(k.numpy())
    torch.testing.assert_close(ours, torch.as_tensor(ref), rtol=1e-6, atol=1e-300)


def test_icdf_round_trip_and_smallest_quantile():
    r = _t([[5.0], [0.3], [50.0]])
    d = dist.NegativeBinomial(r, probs=_t([0.3, 0.9, 0.995]))
    k = _t([0.0, 1.0, 4.0, 30.0, 9_000.0, 11_000.0])[:, None, None].expand(6, 3, 3)
    cdf = d.cdf(k)
    keep = d.log_prob(k).exp() > 1e-12 * cdf  # else cdf(k - 1) == cdf(k) in float64
    assert torch.equal(d.icdf(cdf)[keep], k[keep])
    q = torch.rand(200, 3, 3, dtype=F64)
    x = d.icdf(q)
    assert bool((d.cdf(x) >= q).all()) and bool((d.cdf(x - 1) < q).all())
    ref = scipy.stats.nbinom(r.numpy(), 1 - d.probs.numpy()).ppf(q.numpy())
    assert torch.equal(x, torch.as_tensor(ref))


def test_icdf_ends_and_float32():
    d = dist.NegativeBinomial(_t(3.0, torch.float32), probs=_t(0.4, torch.float32))
    assert d.icdf(_t([0.0, 1.0], torch.float32)).tolist() == [0.0, math.inf]
    k = _t([0.0, 2.0, 7.0], torch.float32)
    assert torch.equal(d.icdf(d.cdf(k)), k)
    with pytest.raises(ValueError, match=r"icdf: value must be a probability in \[0, 1\]"):
        d.icdf(_t([1.5], torch.float32))


def test_inhomogeneous_total_count():
    r = _t([[1.0], [5.0], [20.5]])
    p = _t([0.2, 0.7])
    d = dist.NegativeBinomial(r, probs=p)
    assert d.batch_shape == (3, 2)
    k = _t([0.0, 3.0, 12.0])[:, None, None]
    ref = scipy.stats.nbinom(r.numpy(), 1 - p.numpy())
    torch.testing.assert_close(d.log_prob(k), torch.as_tensor(ref.logpmf(k.numpy())))
    torch.testing.assert_close(d.mean, torch.as_tensor(ref.mean()))
    torch.manual_seed(0)
    # 20k draws: each batch mean within 5 standard errors (false-alarm rate about 1e-5 overall).
    x = d.sample((20_000,))
    se = (d.variance / 20_000).sqrt()
    assert bool(((x.mean(0) - d.mean).abs() < 5 * se).all())


def test_point_masses_and_impossible_outcomes_are_exact():
    zero_p = dist.NegativeBinomial(_t(3.0), probs=_t(0.0))
    assert zero_p.log_prob(_t([0.0, 2.0])).tolist() == [0.0, -math.inf]
    zero_r = dist.NegativeBinomial(_t(0.0), probs=_t(0.6))
    assert zero_r.log_prob(_t([0.0, 1.0])).tolist() == [0.0, -math.inf]
    for d in (zero_p, zero_r):
        assert d.sample((50,)).abs().max().item() == 0.0
        assert d.cdf(_t([-1.0, 0.0, 5.0])).tolist() == [0.0, 1.0, 1.0]
        assert d.icdf(_t([0.0, 0.5, 1.0])).tolist() == [0.0, 0.0, 0.0]
    assert zero_r.mean.item() == 0.0 and zero_p.variance.item() == 0.0


def test_logits_and_probs_agree_far_in_the_tails():
    logits = _t([-30.0, 0.0, 12.0])
    by_logits = dist.NegativeBinomial(_t(2.0), logits=logits)
    by_probs = dist.NegativeBinomial(_t(2.0), probs=torch.sigmoid(logits))
    k = _t([0.0, 3.0, 1e6])[:, None]
    torch.testing.assert_close(by_logits.log_prob(k), by_probs.log_prob(k), rtol=1e-9, atol=0)
    torch.testing.assert_close(by_logits.cdf(k), by_probs.cdf(k), rtol=1e-6, atol=1e-300)


def test_log_prob_gradients_match_torch_and_cdf_gradient_is_finite():
    k = _t([0.0, 2.0, 9.0])
    grads = []
    for module in (dist, torch.distributions):
        r, p = _t(4.5).requires_grad_(), _t(0.35).requires_grad_()
        module.NegativeBinomial(r, probs=p).log_prob(k).sum().backward()
        grads.append((r.grad, p.grad))
    torch.testing.assert_close(grads[0], grads[1])
    r, p = _t(4.5).requires_grad_(), _t(0.35).requires_grad_()
    dist.NegativeBinomial(r, probs=p).cdf(k).sum().backward()
    assert r.grad.isfinite().item() and p.grad.isfinite().item()


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="'total_count' must be a number or a tensor, got list"):
        dist.NegativeBinomial([1.0, 2.0], probs=_t(0.5))
    with pytest.raises(ValueError, match=r"'total_count' of shape \(3,\) does not broadcast"):
        dist.NegativeBinomial(_t([1.0, 2.0, 3.0]), probs=_t([0.1, 0.2]))
    with pytest.raises(ValueError, match="argument 'total_count' must satisfy"):
        dist.NegativeBinomial(_t(-1.0), probs=_t(0.5))
    with pytest.raises(ValueError, match="argument 'probs' must satisfy"):
        dist.NegativeBinomial(_t(2.0), probs=_t(1.0))
    with pytest.raises(ValueError, match="exactly one of probs or logits"):
        dist.NegativeBinomial(_t(2.0))
    with pytest.raises(ValueError, match="outside the support"):
        dist.NegativeBinomial(_t(2.0), probs=_t(0.5)).log_prob(_t(1.5))


def test_sampler_batches_under_vmap():
    def draw(r):
        return dist.NegativeBinomial(r, logits=_t(1.0), validate_args=False).sample((4,))

    torch.manual_seed(0)
    x = torch.vmap(draw, randomness="different")(_t([0.0, 0.2, 5.0]))
    assert x.shape == (3, 4) and bool((x[0] == 0).all()) and bool((x >= 0).all())


def test_float32_cdf_and_icdf_at_extreme_parameters():
    # (1 - p)^r at p = 1e-6, r = 1e5 needs 1 - p beyond float32; and quantiles
    # near 1e9 lie past float32's integers (the search must still end).
    r = torch.tensor([[1e5], [1e5]])
    p = torch.tensor([[1e-6], [0.9999]])
    d = dist.NegativeBinomial(r, probs=p)
    ref = scipy.stats.nbinom(r.double().numpy(), 1 - p.double().numpy())
    k = torch.tensor([0.0, 1.0, 3.0])
    torch.testing.assert_close(
        d.cdf(k)[0].double(), torch.as_tensor(ref.cdf(k.double().numpy()))[0], rtol=1e-6, atol=0
    )
    q = torch.tensor([0.1, 0.5, 0.9])
    x = d.icdf(q)[1].double()
    torch.testing.assert_close(
        x, torch.as_tensor(ref.ppf(q.double().numpy()))[1], rtol=1e-6, atol=0
    )


def _entropy_by_summation(r, p, terms):
    k = np.arange(terms)
    log_pmf = scipy.stats.nbinom(r, 1 - p).logpmf(k)
    return -(np.exp(log_pmf) * log_pmf).sum()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_entropy_matches_direct_summation(dtype):
    # scipy's own nbinom.entropy stops early on heavy tails (0.3, 0.99 gives 2.83
    # instead of 3.92), so the oracle is a long direct sum of scipy's logpmf.
    r = [3.0, 0.3, 50.0, 1e-3, 2.0]
    p = [0.4, 0.99, 0.9953, 0.5, 0.999]
    expected = [_entropy_by_summation(a, b, 200_000) for a, b in zip(r, p)]
    d = dist.NegativeBinomial(torch.tensor(r, dtype=dtype), probs=torch.tensor(p, dtype=dtype))
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(d.entropy(), torch.tensor(expected, dtype=dtype), rtol=tol, atol=tol)
    by_logits = dist.NegativeBinomial(3.0, logits=torch.tensor(0.4 / 0.6, dtype=F64).log())
    torch.testing.assert_close(by_logits.entropy(), torch.tensor(expected[0], dtype=F64))


@pytest.mark.parametrize("r", [0.01, 0.5, 2.0])
def test_entropy_near_p_one_matches_direct_summation(r):
    # q = 3e-5 needs over 2^20 terms: the first 2^12 are summed and the rest is
    # integrated. The oracle sums scipy's logpmf over 3e6 terms (the rest < 1e-15).
    q = 3e-5
    terms = int((r + 40 * max(r**0.5, 1.0) + 40) / q)
    expected = _entropy_by_summation(r, 1 - q, terms)
    d = dist.NegativeBinomial(r, probs=torch.tensor(1 - q, dtype=F64))
    assert d.entropy().item() == pytest.approx(expected, rel=1e-11)
    by_logits = dist.NegativeBinomial(r, logits=torch.tensor((1 - q) / q, dtype=F64).log())
    assert by_logits.entropy().item() == pytest.approx(expected, rel=1e-9)


def test_entropy_near_p_one_tends_to_the_gamma_limit():
    # q X -> Gamma(r, 1) as q -> 0: H = h(Gamma(r)) - log q + O(q) for r > 1, and
    # O(q^r) below (here r = 0.5: the measured gap shrinks as sqrt(q), 1.8 sqrt(q)).
    logits = torch.tensor([30.0, 34.5, 300.0], dtype=F64)
    q = torch.sigmoid(-logits)
    for r in (3.0, 0.5):
        h = dist.NegativeBinomial(torch.full((3,), r, dtype=F64), logits=logits).entropy()
        limit = r + math.lgamma(r) + (1 - r) * scipy.special.digamma(r) - q.log()
        gap = (h - limit).abs()
        assert bool((gap <= (1e-8 if r > 1 else 2 * q.sqrt()) + 1e-12 * limit).all()), gap


def test_entropy_of_point_masses_is_zero():
    d = dist.NegativeBinomial(torch.tensor([0.0, 4.0]), probs=torch.tensor([0.5, 0.0]))
    assert torch.equal(d.entropy(), torch.zeros(2))
