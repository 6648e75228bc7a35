"""GeneralizedPareto against torch (in float32, see the cases module), its limits and edges."""

import math

import mpmath as mp
import pytest
import torch
import torch.distributions as tdist

import distributions as dist
from tests.distributions.cases import build
from tests.distributions.cases.generalized_pareto import CASES

F32 = torch.float32
STATS = ["mean", "mode", "variance", "stddev", "entropy"]


def _pair(case):
    ours, _ = build(case, dist, F32)
    ref, _ = build(case, tdist, F32)
    return ours, ref


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_matches_torch_in_float32(case):
    ours, ref = _pair(case)
    torch.manual_seed(0)
    x = ref.sample((7,))
    tol = dict(rtol=case.tol32, atol=case.tol32)
    torch.testing.assert_close(ours.log_prob(x), ref.log_prob(x), **tol)
    torch.testing.assert_close(ours.cdf(x), ref.cdf(x), **tol)
    q = torch.linspace(0.05, 0.95, 7).unsqueeze(-1).expand((7,) + ref.batch_shape)
    torch.testing.assert_close(ours.icdf(q), ref.icdf(q), **tol)
    for stat in STATS:
        if stat in case.extra.get("torch_wrong", {}):
            continue
        a, b = getattr(ours, stat), getattr(ref, stat)
        a, b = (a(), b()) if callable(a) else (a, b)
        torch.testing.assert_close(a, b, **tol, msg=lambda m, s=stat: f"{s}: {m}")
    assert torch.equal(ours.support.check(x), ref.support.check(x))
    assert ours.batch_shape == ref.batch_shape and ours.has_rsample == ref.has_rsample


def test_moments_match_pareto_including_divergent_ones():
    # GeneralizedPareto(scale / c, scale, c) is Pareto(scale / c, alpha = 1 / c): the
    # mean diverges for c >= 1 and the variance for c >= 1/2, both to +inf as torch's Pareto.
    c = torch.tensor([0.25, 0.5, 0.7, 1.0, 1.5], dtype=torch.float64)
    ours = dist.GeneralizedPareto(2.0 / c, 2.0, c)
    ref = tdist.Pareto(2.0 / c, 1.0 / c)
    torch.testing.assert_close(ours.mean, ref.mean)
    torch.testing.assert_close(ours.variance, ref.variance)
    assert ours.variance[1:].tolist() == [math.inf] * 4


def test_mode_is_the_density_maximum():
    # For c < -1 the density increases to the upper end; for c > -1 it decreases from loc.
    c = torch.tensor([-2.5, -1.2, -0.5, 0.0, 0.8], dtype=torch.float64)
    d = dist.GeneralizedPareto(1.0, 2.0, c, validate_args=False)
    grid = d.icdf(torch.linspace(0.0, 1.0, 2001, dtype=torch.float64).unsqueeze(-1))
    best = grid.gather(0, d.log_prob(grid).argmax(0, keepdim=True)).squeeze(0)
    torch.testing.assert_close(best, d.mode)


def _exact_log_prob_and_grad(c, z):
    """log_prob and d/dc at loc 0, scale 1, in 50-digit arithmetic."""

    def f(cc):
        return -(1 / cc + 1) * mp.log1p(cc * z) if cc != 0 else -mp.mpf(z)

    if c == 0:
        return -z, z * z / 2 - z
    with mp.workdps(50):
        c = mp.mpf(c)
        return float(f(c)), float(mp.diff(f, c))


@pytest.mark.parametrize("dtype, c", [(torch.float64, 1e-9), (torch.float32, 1e-5)])
def test_smooth_through_zero_concentration(dtype, c):
    # Near c = 0 values and gradients in c must follow the exact function, with no
    # jump where the series takes over and no cancellation blow-up in the gradient.
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == torch.float64 else dict(rtol=5e-5, atol=5e-5)
    for cc in (c, -c, 0.0, 300 * c, -300 * c):
        for z in (0.1, 1.0, 4.0):
            conc = torch.tensor(cc, dtype=dtype).requires_grad_()
            d = dist.GeneralizedPareto(torch.tensor(0.0, dtype=dtype), 1.0, conc)
            lp = d.log_prob(torch.tensor(z, dtype=dtype))
            (g,) = torch.autograd.grad(lp, conc)
            want_lp, want_g = _exact_log_prob_and_grad(conc.item(), z)
            torch.testing.assert_close(lp.item(), want_lp, **tol)
            torch.testing.assert_close(g.item(), want_g, **tol)
    u = torch.tensor([0.2, 0.9], dtype=dtype)
    w = -torch.log1p(-u)
    conc = torch.tensor(0.0, dtype=dtype, requires_grad=True)
    q = dist.GeneralizedPareto(torch.tensor(0.0, dtype=dtype), 1.0, conc).icdf(u)
    (gq,) = torch.autograd.grad(q.sum(), conc)
    torch.testing.assert_close(q, w, **tol)
    torch.testing.assert_close(gq, (w**2 / 2).sum(), **tol)


def _f64(*values):
    return torch.tensor(values, dtype=torch.float64)


def test_edges_of_the_support():
    d = dist.GeneralizedPareto(0.0, 2.0, _f64(0.5, -0.5, -1.0, -2.0), validate_args=False)
    upper = [math.inf, 4.0, 2.0, 1.0]
    assert d.support.upper_bound.tolist() == upper
    # Exactly at the upper end: zero density for -1 < c < 0, uniform for c = -1, a pole below.
    at_end = d.log_prob(_f64(1e30, 4.0, 2.0, 1.0))
    assert at_end[1:].tolist() == [-math.inf, -math.log(2.0), math.inf]
    assert d.log_prob(_f64(-0.1, 4.1, 2.1, 1.1)).tolist() == [-math.inf] * 4
    assert d.cdf(_f64(-1.0, 5.0, 3.0, 2.0)).tolist() == [0.0, 1.0, 1.0, 1.0]
    assert d.icdf(_f64(1.0, 1.0, 1.0, 1.0)).tolist() == upper


def test_validation_errors_name_the_problem():
    with pytest.raises(ValueError, match="argument 'scale' must satisfy"):
        dist.GeneralizedPareto(0.0, -1.0, 0.5)
    d = dist.GeneralizedPareto(0.0, 1.0, -0.5)
    with pytest.raises(ValueError, match=r"outside the support 0.0 <= x <= 2.0"):
        d.log_prob(torch.tensor(2.5))


def test_rsample_is_vmappable():
    d = dist.GeneralizedPareto(0.0, 1.0, 0.2)
    x = torch.vmap(lambda s: d.rsample((3,)) * s, randomness="different")(torch.ones(4))
    assert x.shape == (4, 3) and bool((x >= 0).all())
