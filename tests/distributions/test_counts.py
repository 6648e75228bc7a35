"""Quantile search and entropy by summation for the count families (distributions/counts.py)."""

import numpy as np
import pytest
import scipy.stats
import torch

import distributions as dist

F64 = torch.float64


def _direct_entropy(frozen, terms):
    k = np.arange(terms)
    log_pmf = frozen.logpmf(k)
    pmf = np.exp(log_pmf)
    return -(pmf * np.where(pmf > 0, log_pmf, 0.0)).sum()


@pytest.mark.parametrize("dtype", [F64, torch.float32], ids=str)
def test_poisson_entropy_matches_direct_summation(dtype):
    # scipy's poisson.entropy stops early at large rates (1e4: 6.0216 vs 6.0241),
    # so the oracle is a long direct sum of scipy's logpmf.
    rates = [0.0, 1e-3, 0.5, 3.0, 40.0, 1e4]
    expected = [_direct_entropy(scipy.stats.poisson(r), 20_000) for r in rates]
    tol = 1e-10 if dtype == F64 else 1e-5
    torch.testing.assert_close(
        dist.Poisson(torch.tensor(rates, dtype=dtype)).entropy(),
        torch.tensor(expected, dtype=dtype),
        rtol=tol,
        atol=tol,
    )


def test_binomial_entropy_with_inhomogeneous_counts_matches_scipy():
    n = torch.tensor([0.0, 1.0, 10.0, 100.0, 2000.0], dtype=F64)
    p = torch.tensor([0.3, 0.0, 0.7, 1.0, 0.4], dtype=F64)
    expected = [float(scipy.stats.binom(int(a), b).entropy()) for a, b in zip(n, p)]
    torch.testing.assert_close(dist.Binomial(n, p).entropy(), torch.tensor(expected, dtype=F64))
    by_logits = dist.Binomial(n[2:3], logits=torch.tensor([0.7 / 0.3], dtype=F64).log())
    torch.testing.assert_close(by_logits.entropy(), torch.tensor(expected[2:3], dtype=F64))


def _family(name, dtype):
    t = lambda *v: torch.tensor(v, dtype=dtype)  # noqa: E731
    if name == "Poisson":
        return dist.Poisson(t(0.0, 0.5, 40.0, 1e4))
    if name == "Binomial":
        return dist.Binomial(t(0.0, 5.0, 40.0, 300.0), t(0.3, 0.3, 0.9, 0.5))
    return dist.NegativeBinomial(t(0.0, 2.0, 50.0, 5.0), t(0.3, 0.9, 0.5, 0.0))


@pytest.mark.parametrize("dtype", [F64, torch.float32], ids=str)
@pytest.mark.parametrize("name", ["Poisson", "Binomial", "NegativeBinomial"])
def test_icdf_inverts_cdf_on_a_range_of_counts(name, dtype):
    d = _family(name, dtype)
    k = torch.arange(0.0, 120.0, dtype=dtype).unsqueeze(-1).expand(-1, 4)
    q = d.cdf(k)
    back = d.icdf(q)
    # The smallest count with that cdf: k itself, or an earlier one where no mass
    # lies in between (beyond a point mass, past a Binomial's total_count).
    # A cdf that rounds to exactly 1 asks for the quantile of 1 (the support's top).
    below_one = q < 1
    assert bool((back[below_one] <= k[below_one]).all())
    torch.testing.assert_close(d.cdf(back)[below_one], q[below_one], rtol=0, atol=0)


@pytest.mark.parametrize("name", ["Poisson", "Binomial"])
def test_icdf_matches_scipy_ppf_and_the_ends(name):
    q = torch.tensor([1e-9, 1e-3, 0.3, 0.5, 0.9, 1 - 1e-9], dtype=F64).unsqueeze(-1)
    if name == "Poisson":
        rates = torch.tensor([0.5, 40.0, 1e4], dtype=F64)
        d, frozen = dist.Poisson(rates), scipy.stats.poisson(rates.numpy())
        top = torch.full((3,), float("inf"), dtype=F64)
    else:
        n, p = torch.tensor([5.0, 40.0, 2000.0], dtype=F64), torch.tensor([0.3, 0.9, 0.5])
        d, frozen = dist.Binomial(n, p.double()), scipy.stats.binom(n.int().numpy(), p.numpy())
        top = n
    torch.testing.assert_close(d.icdf(q), torch.as_tensor(frozen.ppf(q.numpy())))
    assert torch.equal(d.icdf(torch.tensor(0.0, dtype=F64)), torch.zeros(3, dtype=F64))
    assert torch.equal(d.icdf(torch.tensor(1.0, dtype=F64)), top)
    with pytest.raises(ValueError, match=rf"{name}.icdf: value must be a probability in \[0, 1\]"):
        d.icdf(torch.tensor([0.5, 1.5]).unsqueeze(-1))


@pytest.mark.parametrize("dtype", [F64, torch.float32], ids=str)
def test_poisson_draws_stay_integers_at_rates_past_int64(dtype):
    # torch.poisson returns -2^63 past a rate of about 9.2e18 (int64 overflow).
    torch.manual_seed(0)
    rates = torch.tensor([3.0, 1e17, 1e20, 3e38], dtype=dtype)
    x = dist.Poisson(rates).sample((2000,))
    assert bool(dist.Poisson(rates).support.check(x).all())
    assert x.dtype == dtype and bool(x.isfinite().all())
    if dtype == F64:
        # Standardized draws of the Cornish-Fisher path against N(0, 1): the KS
        # test's p-value at a fixed seed (a 1e-3 false-alarm rate if redrawn).
        z = (x[:, 2] - rates[2]) / rates[2].sqrt()
        assert scipy.stats.kstest(z.numpy(), "norm").pvalue > 1e-3


def test_negative_binomial_draws_saturate_at_the_largest_float():
    # The mean r p / (1 - p) = 5.5e34 * e^80 overflows float32: a draw is the largest float.
    d = dist.NegativeBinomial(torch.tensor(5.5e34), logits=torch.tensor(80.0))
    x = d.sample((3,))
    assert torch.equal(x, torch.full((3,), torch.finfo(torch.float32).max))
    wide = dist.NegativeBinomial(
        torch.tensor(5.5e34, dtype=F64), logits=torch.tensor(80.0, dtype=F64)
    )
    assert bool((wide.sample((3,)) / wide.mean - 1).abs().max() < 1e-6)


def test_icdf_rounds_up_past_float32_integers():
    # Past 2^24 the float32 nearest the quantile can lie below it (cdf short of q).
    d = dist.Poisson(torch.tensor(5.158515825715446e17))
    q = torch.tensor([0.1, 0.5, 0.9])
    k = d.icdf(q)
    assert bool((d.cdf(k) >= q).all())
    below = torch.nextafter(k, torch.zeros(()))
    assert bool((d.cdf(below) < q).all())
