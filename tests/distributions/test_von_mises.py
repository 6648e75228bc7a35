"""``VonMises`` beyond the oracle table: sampler, cdf, entropy and extreme concentrations."""

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats
import torch

import distributions as dist

F64 = torch.float64


def _t(x, dtype=F64):
    return torch.as_tensor(x, dtype=dtype)


def _recentred(x, loc):
    """Samples as offsets from ``loc`` in ``[-pi, pi)``, where scipy's loc-0 cdf applies."""
    return np.remainder(x - loc + math.pi, 2 * math.pi) - math.pi


@pytest.mark.parametrize(
    "loc, kappa, dtype",
    [
        (0.0, 0.01, F64),
        (0.0, 0.01, torch.float32),
        (3.0, 2.0, F64),
        (-10.0, 1e3, F64),
        (1.0, 1e3, torch.float32),
    ],
)
def test_sampler_kolmogorov_smirnov(loc, kappa, dtype):
    # 4000 draws, fixed seed; a correct sampler fails one of these five KS tests
    # with probability 1e-4 each, so the outcome is repeatable and rarely wrong.
    torch.manual_seed(11)
    x = dist.VonMises(_t(loc, dtype), _t(kappa, dtype)).sample((4000,))
    assert x.dtype == dtype
    assert x.min() >= -math.pi and x.max() <= math.pi
    offsets = _recentred(x.double().numpy(), loc)
    p = scipy.stats.kstest(offsets, scipy.stats.vonmises(kappa).cdf).pvalue
    assert p > 1e-4, f"VonMises({loc}, {kappa}) {dtype}: KS p-value {p:.2e}"


def test_sampler_batches_and_expands():
    d = dist.VonMises(torch.zeros(3, 1), torch.tensor([0.1, 1.0, 1e4]))
    assert d.sample((5, 2)).shape == (5, 2, 3, 3)
    big = d.expand((4, 3, 3))
    assert big.sample().shape == (4, 3, 3)
    assert big.concentration.data_ptr() == d.concentration.data_ptr()


def test_sampler_with_invalid_parameters_returns_nan_instead_of_hanging():
    d = dist.VonMises(0.0, torch.tensor([math.nan, -1.0, 0.0, 1.0]), validate_args=False)
    x = d.sample((50,))
    assert x[:, :2].isnan().all()
    # k = 0 is the uniform limit: finite angles.
    assert x[:, 2:].isfinite().all()


def _cdf_points(loc, kappa):
    bulk = np.linspace(-math.pi, math.pi, 41)
    tails = np.linspace(-9, 9, 37) / math.sqrt(kappa)
    d = np.concatenate([bulk, tails[np.abs(tails) < math.pi]])
    # Whole turns away: the cdf grows by one per turn, like scipy's.
    return loc + np.concatenate([d, d[::4] + 2 * math.pi, d[::4] - 4 * math.pi])


@pytest.mark.parametrize("kappa", [0.01, 0.5, 2.0, 20.0, 49.0, 300.0, 1e3, 1e4])
def test_cdf_matches_scipy(kappa):
    # scipy's cdf is a Fourier series below k = 50 (~1e-14) and a normal
    # approximation above, good to ~1e-7 from k = 300 on.
    loc = 0.7
    x = _cdf_points(loc, kappa)
    ours = dist.VonMises(_t(loc), _t(kappa)).cdf(_t(x))
    expected = scipy.stats.vonmises(kappa, loc=loc).cdf(x)
    torch.testing.assert_close(ours, _t(expected), rtol=0, atol=1e-6)


def _quadrature_cdf(kappa, d):
    """``P(-pi < X < d)`` for VonMises(0, kappa) by adaptive quadrature of scipy's pdf."""
    pdf = scipy.stats.vonmises(kappa).pdf
    if d <= 0:
        return scipy.integrate.quad(pdf, -math.pi, d, epsabs=0, epsrel=1e-12, limit=200)[0]
    return 1 - scipy.integrate.quad(pdf, d, math.pi, epsabs=0, epsrel=1e-12, limit=200)[0]


@pytest.mark.parametrize("kappa", [10.0, 49.9, 50.1, 120.0])
def test_cdf_matches_quadrature_around_the_switch(kappa):
    # Between k = 50 and a few hundred scipy's normal approximation is off by up
    # to 3e-6, so quadrature of the density is the oracle here; both of our
    # branches are accurate to ~1e-15 on either side of the switch at 50.
    d = np.linspace(-3.0, 3.0, 13) / math.sqrt(kappa) * 2
    ours = dist.VonMises(_t(0.0), _t(kappa)).cdf(_t(d))
    expected = [_quadrature_cdf(kappa, v) for v in d]
    torch.testing.assert_close(ours, _t(expected), rtol=0, atol=1e-12)


def test_cdf_lower_tail_has_relative_accuracy_for_large_concentration():
    # Far in the tail the cdf is ~1e-60; an absolute 1e-16 would say nothing.
    kappa, d = 200.0, np.array([-0.5, -1.0, -1.5])
    ours = dist.VonMises(_t(0.0), _t(kappa)).cdf(_t(d))
    expected = [_quadrature_cdf(kappa, v) for v in d]
    assert min(expected) < 1e-50
    torch.testing.assert_close(ours, _t(expected), rtol=1e-9, atol=0)


@pytest.mark.parametrize("kappa", [0.3, 20.0, 80.0, 1e3])
def test_cdf_derivative_is_the_density(kappa):
    x = torch.linspace(-2.0, 4.0, 9, dtype=F64).requires_grad_()
    d = dist.VonMises(_t(1.0), _t(kappa))
    (grad,) = torch.autograd.grad(d.cdf(x).sum(), x)
    torch.testing.assert_close(grad, d.log_prob(x.detach()).exp(), rtol=1e-9, atol=1e-12)


def test_cdf_of_float32_input_is_float32_and_accurate():
    d = dist.VonMises(torch.tensor([0.0, 1.0]), torch.tensor([0.5, 500.0]))
    x = torch.tensor([0.3, 1.01])
    f = d.cdf(x)
    assert f.dtype == torch.float32
    expected = scipy.stats.vonmises([0.5, 500.0], loc=[0.0, 1.0]).cdf(x.double().numpy())
    torch.testing.assert_close(f.double(), _t(expected), rtol=0, atol=1e-6)


@pytest.mark.parametrize("kappa", [0.01, 2.0, 49.0, 80.0, 1e4])
def test_icdf_inverts_the_cdf_and_matches_scipy_ppf(kappa):
    loc = -0.4
    d = dist.VonMises(_t(loc), _t(kappa))
    q = np.concatenate([[0.0, 1e-12], np.linspace(0.01, 0.99, 15), [1 - 1e-12, 1.0]])
    x = d.icdf(_t(q))
    assert (x >= loc - math.pi).all() and (x <= loc + math.pi).all()
    assert x[0].item() == loc - math.pi and x[-1].item() == loc + math.pi
    torch.testing.assert_close(d.cdf(x), _t(q), rtol=0, atol=1e-14)
    if kappa < 50:  # scipy's ppf inverts its cdf, accurate only below k = 50 (see above)
        ppf = scipy.stats.vonmises(kappa, loc=loc).ppf(q[2:-2])
        torch.testing.assert_close(x[2:-2], _t(ppf), rtol=0, atol=1e-9)


def test_icdf_gradient_is_the_reciprocal_density_and_bad_probabilities_are_nan():
    d = dist.VonMises(_t([0.0, 1.0]), _t([0.5, 200.0]))
    q = _t([0.2, 0.9]).requires_grad_()
    x = d.icdf(q)
    (grad,) = torch.autograd.grad(x.sum(), q)
    torch.testing.assert_close(grad, d.log_prob(x.detach()).neg().exp(), rtol=1e-9, atol=0)
    assert d.icdf(_t([-0.1, 1.5])).isnan().all()
    f32 = dist.VonMises(torch.tensor(0.0), torch.tensor(3.0)).icdf(torch.tensor([0.25]))
    assert f32.dtype == torch.float32


@pytest.mark.parametrize("kappa", [0.01, 1.0, 20.0, 1e3, 1e5])
def test_entropy_matches_scipy(kappa):
    ours = dist.VonMises(_t(0.0), _t(kappa)).entropy()
    torch.testing.assert_close(ours, _t(scipy.stats.vonmises(kappa).entropy()), rtol=1e-9, atol=0)


@pytest.mark.parametrize("dtype", [F64, torch.float32], ids=str)
def test_log_prob_at_concentration_1e4_is_finite_and_matches_scipy(dtype):
    kappa = 1e4
    x = np.array([0.0, 0.005, -0.02, 0.1, 3.0])
    lp = dist.VonMises(_t(0.0, dtype), _t(kappa, dtype)).log_prob(_t(x, dtype))
    assert lp.isfinite().all()
    # I0(1e4) overflows float64 (it does past k ~ 713); only log(i0e(k)) + k stays finite.
    rtol = 1e-10 if dtype == F64 else 1e-5
    expected = _t(scipy.stats.vonmises(kappa).logpdf(x))
    torch.testing.assert_close(lp.double(), expected, rtol=rtol, atol=0)


def test_circular_variance_is_accurate_for_large_concentration():
    # 1 - I1/I0 ~ 1/(2k): a difference of two numbers near one, which the
    # asymptotic series computes without losing digits, even in float32.
    kappa = np.array([0.5, 20.0, 1e3, 1e6])
    expected = 1 - scipy.special.i1e(kappa[:3]) / scipy.special.i0e(kappa[:3])
    expected = np.append(expected, 1 / 2e6 + 1 / 8e12)
    for dtype, rtol in [(F64, 1e-10), (torch.float32, 1e-6)]:
        var = dist.VonMises(_t(0.0, dtype), _t(kappa, dtype)).variance
        assert var.dtype == dtype
        torch.testing.assert_close(var.double(), _t(expected), rtol=rtol, atol=0)


def test_non_positive_concentration_is_a_clear_error():
    with pytest.raises(ValueError, match=r"VonMises: argument 'concentration' must satisfy"):
        dist.VonMises(0.0, 0.0)
    with pytest.raises(ValueError, match=r"shape \(2,\) has value -2.0 at index \(1,\)"):
        dist.VonMises(0.0, torch.tensor([1.0, -2.0]))
