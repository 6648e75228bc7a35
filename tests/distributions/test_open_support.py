"""Draws stay on the floats of their support at extreme parameters (issue 16's fuzzer).

The parameters are the fuzzer's findings: with them, exp or a power of a
draw over- or underflowed (LogNormal, Weibull, Pareto, GeneralizedPareto) or
rounded onto an end (Kumaraswamy, GeneralizedPareto with c < -1), so
``log_prob`` of the family's own draws was ``-inf``. Where the parameters are
moderate the draws and densities must be what they were: scipy is the oracle.
"""

import math

import mpmath
import numpy as np
import pytest
import scipy.stats as st
import torch

import distributions as D
from distributions.open_support import clamp_to_support

F32, F64 = torch.float32, torch.float64
HUGE32 = 5.540622484676759e34  # exp(80) in float32, the fuzzer's "edge_high"


def _t(v, dtype):
    return torch.tensor(v, dtype=dtype)


EXTREME = [
    ("LogNormal", lambda: D.LogNormal(_t(80.0, F32), _t(HUGE32, F32))),
    ("LogNormal f64", lambda: D.LogNormal(_t(-700.0, F64), _t(1e30, F64))),
    ("Weibull tiny k", lambda: D.Weibull(_t(0.86, F32), _t(4.6e-8, F32))),
    ("Weibull tiny scale and k", lambda: D.Weibull(_t(1.7e-18, F64), _t(1.7e-18, F64))),
    ("Pareto tiny alpha", lambda: D.Pareto(_t(1.29, F32), _t(6.6e-18, F32))),
    ("Kumaraswamy huge", lambda: D.Kumaraswamy(_t(HUGE32, F32), _t(HUGE32, F32))),
    (
        "GeneralizedPareto overflow",
        lambda: D.GeneralizedPareto(_t(80.0, F32), _t(HUGE32, F32), _t(80.0, F32)),
    ),
    (
        "GeneralizedPareto upper end",
        lambda: D.GeneralizedPareto(_t(-39.39, F64), _t(5.5e34, F64), _t(-40.4, F64)),
    ),
]


@pytest.mark.parametrize("name, make", EXTREME, ids=[e[0] for e in EXTREME])
def test_draws_are_inside_the_support_and_score_finitely(name, make):
    torch.manual_seed(0)
    d = make()
    x = d.sample((2000,))
    assert bool(torch.isfinite(x).all())
    assert bool(d.support.check(x).all())
    assert bool(torch.isfinite(d.log_prob(x)).all())


@pytest.mark.parametrize(
    "make, oracle",
    [
        (lambda: D.LogNormal(0.3, 0.8), st.lognorm(0.8, scale=math.exp(0.3))),
        (lambda: D.Weibull(1.5, 0.7), st.weibull_min(0.7, scale=1.5)),
        (lambda: D.Pareto(2.0, 3.0), st.pareto(3.0, scale=2.0)),
        (lambda: D.GeneralizedPareto(0.5, 2.0, -0.3), st.genpareto(-0.3, loc=0.5, scale=2.0)),
    ],
)
def test_moderate_draws_keep_their_law(make, oracle):
    # Kolmogorov-Smirnov at n = 4000; p > 1e-4 (false alarm 1e-4 per case, seed fixed).
    torch.manual_seed(1)
    d = make()
    x = d.sample((4000,)).double().numpy()
    assert st.kstest(x, oracle.cdf).pvalue > 1e-4
    lp = d.log_prob(torch.as_tensor(x, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(lp, oracle.logpdf(x), rtol=1e-5, atol=1e-5)


def test_weibull_log_prob_in_log_space_matches_mpmath_past_the_float_range():
    # value / scale = 1e320 overflows float64; the density itself is representable.
    d = D.Weibull(_t(1e-300, F64), _t(0.01, F64))
    value = _t(1e20, F64)
    k, s, v = mpmath.mpf(0.01), mpmath.mpf(1e-300), mpmath.mpf(1e20)
    z = v / s
    expected = float(mpmath.log(k / s) + (k - 1) * mpmath.log(z) - z**k)
    assert d.log_prob(value).item() == pytest.approx(expected, rel=1e-12)


def test_pareto_cdf_is_exact_near_the_scale_at_a_large_alpha():
    # log(x) - log(scale) lost ~1e-6 to cancellation, times alpha = 5.5e5.
    scale, alpha = _t(1.3651475534918164e-18, F32), _t(547310.9375, F32)
    d = D.Pareto(scale, alpha)
    u = _t([0.1, 0.5, 0.9], F32)
    q = d.icdf(u)
    with mpmath.workdps(30):
        exact = [
            float(-mpmath.expm1(-mpmath.mpf(alpha.item()) * mpmath.log(qi / scale.item())))
            for qi in q.double().tolist()
        ]
    np.testing.assert_allclose(d.cdf(q).double().numpy(), exact, rtol=1e-4)


def test_clamp_to_support_moves_only_what_is_outside():
    x = torch.tensor([0.0, 1e-30, 0.5, 1.0, math.inf, -math.inf, math.nan])
    out = clamp_to_support(x, 0.0, 1.0, open_low=True, open_high=True)
    tiny, below_one = torch.finfo(F32).tiny, 1 - torch.finfo(F32).eps / 2
    assert out[[0, 2, 3, 4, 5]].tolist() == [tiny, 0.5, below_one, below_one, tiny]
    assert out[1] == x[1]
    assert math.isnan(out[6].item())  # not a draw of any law: left for the caller to see
    lows = torch.tensor([1.0, 2.0], dtype=F64)
    wide = clamp_to_support(torch.tensor([0.0, math.inf], dtype=F64), lows)
    assert wide.tolist() == [1.0, torch.finfo(F64).max]


def test_clamp_keeps_the_low_end_of_a_degenerate_open_support():
    # GeneralizedPareto with loc + scale / |c| == loc in floats.
    lo = torch.tensor([1.0])
    assert clamp_to_support(torch.tensor([1.0]), lo, lo, open_high=True).tolist() == [1.0]


# ------------------------------------------------- densities at the same edges
def test_kumaraswamy_tiny_concentrations_score_their_draws_as_mpmath():
    # 1 - x^a rounded to 0 for a = 5e-18 (x^a rounds to 1): log_prob was +inf.
    a, b = 5.1e-18, 5.5e-18
    d = D.Kumaraswamy(_t(a, F64), _t(b, F64))
    x = _t([1e-300, 0.3], F64)
    with mpmath.workdps(40):
        expected = [
            float(
                mpmath.log(a * b)
                + (a - 1) * mpmath.log(v)
                + (b - 1) * mpmath.log(-mpmath.expm1(a * mpmath.log(v)))
            )
            for v in (mpmath.mpf(1e-300), mpmath.mpf(0.3))
        ]
    np.testing.assert_allclose(d.log_prob(x).numpy(), expected, rtol=1e-12)


def test_generalized_pareto_scores_a_draw_whose_z_overflows():
    # z = (x - loc) / scale = 1.8e308 / 1.8e-35 is past float64; log1p(c z) is not.
    loc, scale, c = 80.0, 1.8e-35, 80.0
    d = D.GeneralizedPareto(_t(loc, F64), _t(scale, F64), _t(c, F64))
    x = torch.finfo(F64).max / 2
    with mpmath.workdps(40):
        z = (mpmath.mpf(x) - loc) / mpmath.mpf(scale)
        expected = float(-mpmath.log(scale) - (1 / mpmath.mpf(c) + 1) * mpmath.log1p(c * z))
    assert d.log_prob(_t(x, F64)).item() == pytest.approx(expected, rel=1e-12)


def test_lognormal_cdf_refuses_a_law_narrower_than_one_float():
    d = D.LogNormal(_t(41.0, F32), _t(7e-18, F32))
    with pytest.raises(ValueError, match=r"LogNormal.cdf: scale is below the torch.float32"):
        d.cdf(d.icdf(_t(0.5, F32)))
    # float64 resolves the same law's log to 41 * 2.2e-16 = 9e-15, still too coarse ...
    with pytest.raises(ValueError, match="narrower than one float"):
        D.LogNormal(_t(41.0, F64), _t(7e-18, F64)).cdf(_t(1.0, F64))
    # ... and a scale 1e3 times the resolution answers.
    ok = D.LogNormal(_t(41.0, F64), _t(1e-11, F64))
    assert ok.cdf(ok.icdf(_t(0.3, F64))).item() == pytest.approx(0.3, abs=1e-3)
