"""Edges and samplers of the location-scale, half and count families."""

import math

import pytest
import scipy.stats
import torch

import distributions as dist


def test_log_normal_at_zero_is_minus_infinity_not_nan():
    d = dist.LogNormal(0.0, 1.0, validate_args=False)
    assert d.log_prob(torch.tensor(0.0)).item() == -math.inf


@pytest.mark.parametrize(
    "d, outside",
    [
        (dist.HalfNormal(1.0, validate_args=False), -1.0),
        (dist.HalfCauchy(1.0, validate_args=False), -1.0),
        (dist.Exponential(1.0, validate_args=False), -0.5),
        (dist.Uniform(0.0, 1.0, validate_args=False), 1.5),
        (dist.LogNormal(0.0, 1.0, validate_args=False), -2.0),
    ],
)
def test_outside_the_support_scores_minus_infinity(d, outside):
    assert d.log_prob(torch.tensor(outside)).item() == -math.inf


def test_uniform_bounds_error_names_both():
    with pytest.raises(ValueError, match="'low' must be less than 'high'"):
        dist.Uniform(1.0, 0.0)


def test_binomial_impossible_outcome_and_large_count_sampler():
    assert dist.Binomial(5, probs=torch.tensor(0.0)).log_prob(torch.tensor(1.0)).item() == -math.inf
    # n = 2000: chi-square over bins with expected count > 5; false-alarm rate 1e-4.
    torch.manual_seed(0)
    n, p = 2000, 0.3
    x = dist.Binomial(n, probs=torch.tensor(p, dtype=torch.float64)).sample((50_000,))
    _chi_square(x.long(), scipy.stats.binom(n, p))


def test_poisson_large_rate_sampler():
    torch.manual_seed(1)
    rate = 1e4
    x = dist.Poisson(torch.tensor(rate, dtype=torch.float64)).sample((50_000,))
    _chi_square(x.long(), scipy.stats.poisson(rate))


def _chi_square(x, ref):
    values, counts = torch.unique(x, return_counts=True)
    expected = torch.as_tensor(ref.pmf(values.numpy())) * len(x)
    keep = expected > 5
    stat = ((counts[keep] - expected[keep]) ** 2 / expected[keep]).sum().item()
    assert scipy.stats.chi2(int(keep.sum()) - 1).sf(stat) > 1e-4


def test_poisson_and_binomial_cdf_against_scipy():
    k = torch.tensor([-1.0, 0.0, 3.0, 7.5], dtype=torch.float64)
    torch.testing.assert_close(
        dist.Poisson(torch.tensor(3.0, dtype=torch.float64)).cdf(k),
        torch.as_tensor(scipy.stats.poisson(3.0).cdf(k.numpy())),
    )
    b = dist.Binomial(
        torch.tensor(8.0, dtype=torch.float64), probs=torch.tensor(0.4, dtype=torch.float64)
    )
    torch.testing.assert_close(b.cdf(k), torch.as_tensor(scipy.stats.binom(8, 0.4).cdf(k.numpy())))


def test_weibull_mode_is_zero_below_concentration_one():
    # torch returns NaN here (a negative base to a fractional power); the density
    # is decreasing on (0, inf) for k <= 1, so the mode is 0.
    d = dist.Weibull(torch.tensor([2.0, 2.0]), torch.tensor([0.7, 1.0]))
    assert d.mode.tolist() == [0.0, 0.0]
    assert d.log_prob(torch.tensor([0.5, 0.5])).isfinite().all()


def test_kumaraswamy_mode_maximizes_the_density():
    d = dist.Kumaraswamy(
        torch.tensor(2.0, dtype=torch.float64), torch.tensor(3.0, dtype=torch.float64)
    )
    grid = torch.linspace(0.001, 0.999, 9999, dtype=torch.float64)
    best = grid[d.log_prob(grid).argmax()]
    assert abs(d.mode.item() - best.item()) < 1e-3


def test_kumaraswamy_cdf_and_mean_by_quadrature():
    d = dist.Kumaraswamy(
        torch.tensor(1.5, dtype=torch.float64), torch.tensor(2.5, dtype=torch.float64)
    )
    x = torch.linspace(1e-6, 1 - 1e-6, 200_001, dtype=torch.float64)
    density = d.log_prob(x).exp()
    torch.testing.assert_close(
        torch.trapezoid(density, x), torch.tensor(1.0, dtype=torch.float64), atol=1e-3, rtol=0
    )
    torch.testing.assert_close(torch.trapezoid(x * density, x), d.mean, atol=1e-4, rtol=0)
    half = x <= 0.4
    torch.testing.assert_close(
        torch.trapezoid(density[half], x[half]),
        d.cdf(torch.tensor(0.4, dtype=torch.float64)),
        atol=1e-4,
        rtol=0,
    )
