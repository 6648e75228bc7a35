"""Gamma, Chi2, InverseGamma, Beta, StudentT, FisherSnedecor and Dirichlet beyond torch.

The generic oracle table (``cases/gamma_family.py``) covers the torch-compatible
surface; this module covers what torch lacks or gets wrong: cdf/icdf in both
tails, numerically sound edges, small-concentration sampling and the exactness
of the implicit reparameterization gradients.
"""

import fractions
import math
import warnings

import mpmath
import numpy as np
import pytest
import scipy.special as sc
import scipy.stats
import torch

import distributions as D

PROBS = [1e-10, 1e-6, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 1 - 1e-6]
PARAMS = [0.1, 0.5, 1.0, 3.0, 20.0, 150.0, 1000.0]


def _batched(params, n_args):
    """Every combination of ``params`` for ``n_args`` arguments, times every probability."""
    mesh = np.meshgrid(*([params] * n_args), PROBS, indexing="ij")
    return [torch.tensor(m, dtype=torch.float64) for m in mesh]


def _assert_rel(actual, expected, tol, what):
    actual = actual.detach().numpy()
    same = actual == expected
    err = np.where(same, 0.0, np.abs(actual / np.where(same, 1.0, expected) - 1))
    worst = np.unravel_index(np.argmax(err), err.shape)
    assert err.max() < tol, f"{what}: relative error {err.max():.2e} at {worst}"


# ------------------------------------------------------------ cdf and icdf
# Each row: (name, number of parameters, constructor from tensors, scipy frozen).
FAMILIES = [
    ("Gamma", 2, lambda a, r: D.Gamma(a, r), lambda a, r: scipy.stats.gamma(a, scale=1 / r)),
    ("Chi2", 1, lambda k: D.Chi2(k), lambda k: scipy.stats.chi2(k)),
    (
        "InverseGamma",
        2,
        lambda a, r: D.InverseGamma(a, r),
        lambda a, r: scipy.stats.invgamma(a, scale=r),
    ),
    ("Beta", 2, lambda a, b: D.Beta(a, b), lambda a, b: scipy.stats.beta(a, b)),
    ("StudentT", 1, lambda k: D.StudentT(k, 0.5, 2.0), lambda k: scipy.stats.t(k, 0.5, 2.0)),
    ("FisherSnedecor", 2, lambda m, n: D.FisherSnedecor(m, n), lambda m, n: scipy.stats.f(m, n)),
]


def _scipy(fn, *args):
    # scipy.stats warns (and returns a poor value) where its own root finders give up;
    # those entries are excluded below by checking scipy's round trip.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


@pytest.mark.parametrize("name, n_args, ours, ref", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_icdf_and_cdf_match_scipy_over_bulk_and_tails(name, n_args, ours, ref):
    *params, p = _batched(PARAMS, n_args)  # one batched call per family, no Python loops
    dist = ours(*params)
    frozen = ref(*(t.numpy() for t in params))
    x = dist.icdf(p)
    assert x.shape == p.shape and x.isfinite().all()
    pn, xn = p.numpy(), x.detach().numpy()
    lower = pn <= 0.5
    target = np.where(lower, pn, 1 - pn)
    # cdf: ours against scipy's at the same points, in the tail that is small there.
    ref_tail = _scipy(lambda: np.where(lower, frozen.cdf(xn), frozen.sf(xn)))
    cdf = dist.cdf(x)
    _assert_rel(torch.where(p <= 0.5, cdf, 1 - cdf), ref_tail, 1e-6, f"{name}.cdf")
    # icdf: scipy's exact cdf maps our quantile back onto p, except where float64
    # cannot hold the quantile to 1e-7 (Beta(0.1, 0.1) at p = 0.99 is 1 - 1e-17) ...
    inside = (xn > 0) & (1 - xn > 1e-9) if name == "Beta" else np.ones_like(lower)
    _assert_rel(torch.as_tensor(ref_tail[inside]), target[inside], 1e-6, f"{name}.icdf round trip")
    # ... and it agrees with scipy's ppf wherever that ppf round-trips itself.
    ppf = _scipy(frozen.ppf, pn)
    back = _scipy(lambda: np.where(lower, frozen.cdf(ppf), frozen.sf(ppf)))
    trusted = np.abs(back / target - 1) < 1e-9
    assert trusted.mean() > 0.9, f"scipy's ppf is unreliable on {1 - trusted.mean():.0%}"
    _assert_rel(x[torch.as_tensor(trusted)], ppf[trusted], 1e-6, f"{name}.icdf vs ppf")


@pytest.mark.parametrize("name, n_args, ours, ref", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_icdf_in_float32(name, n_args, ours, ref):
    *params, p = _batched([0.5, 3.0, 40.0], n_args)
    p = p.float().double()  # the same probabilities in both dtypes (1 - 1e-6 rounds in float32)
    x64 = ours(*params).icdf(p)
    x32 = ours(*(t.float() for t in params)).icdf(p.float())
    assert x32.dtype == torch.float32
    # subnormal float32 results (Chi2(0.5) at p = 1e-10 is ~1e-40) carry fewer digits
    torch.testing.assert_close(x32.double(), x64, rtol=1e-6, atol=torch.finfo(torch.float32).tiny)


def test_student_t_icdf_and_cdf_at_huge_df_tend_to_the_normal():
    # At df = 1e8 quantiles differ from the normal ones by about (z^2 + 1) / (4 df).
    p = torch.tensor([1e-10, 0.01, 0.5, 0.975, 1 - 1e-6], dtype=torch.float64)
    d = D.StudentT(torch.tensor(1e8, dtype=torch.float64))
    t = d.icdf(p)
    torch.testing.assert_close(t, torch.special.ndtri(p), rtol=2e-7, atol=1e-12)
    torch.testing.assert_close(d.cdf(t), p, rtol=1e-8, atol=0)


def test_cdf_and_icdf_are_differentiable():
    a = torch.tensor([0.7, 5.0], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([2.0, 0.9], dtype=torch.float64, requires_grad=True)
    x = torch.tensor([0.2, 0.9], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, x: D.Beta(a, b).cdf(x), (a, b, x))
    p = torch.tensor([0.05, 0.6], dtype=torch.float64, requires_grad=True)
    df = torch.tensor([2.5, 9.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda df, p: D.StudentT(df).icdf(p), (df, p))


# -------------------------------------------------------------- edge values
def test_student_t_log_prob_float32_at_huge_df():
    # torch.distributions returns 0.0 at df = 1e8 (lgamma cancellation in float32).
    y = torch.tensor([0.0, 0.5, 2.0, 7.0], dtype=torch.float64)
    for df in (1e2, 1e4, 1e6, 1e8):
        f64 = D.StudentT(torch.tensor(df, dtype=torch.float64), 0.3, 1.7).log_prob(y)
        f32 = D.StudentT(torch.tensor(df), 0.3, 1.7).log_prob(y.float())
        assert (f32.double() - f64).abs().max() < 1e-4, df
    normal = D.Normal(torch.tensor(0.3, dtype=torch.float64), 1.7).log_prob(y)
    torch.testing.assert_close(f64, normal, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "a, b, at_zero, at_one",
    [
        (1.0, 3.0, np.log(3.0), -np.inf),
        (0.5, 2.0, np.inf, -np.inf),
        (2.0, 0.5, -np.inf, np.inf),
        (3.0, 1.0, -np.inf, np.log(3.0)),
        (1.0, 1.0, 0.0, 0.0),
        (0.3, 0.4, np.inf, np.inf),
    ],
)
def test_beta_log_prob_at_the_ends(a, b, at_zero, at_one):
    for dtype in (torch.float64, torch.float32):
        d = D.Beta(torch.tensor(a, dtype=dtype), torch.tensor(b, dtype=dtype))
        lp = d.log_prob(torch.tensor([0.0, 1.0], dtype=dtype))
        assert not lp.isnan().any()
        torch.testing.assert_close(lp.double(), torch.tensor([at_zero, at_one]).double())
        assert d.cdf(torch.tensor([0.0, 1.0], dtype=dtype)).tolist() == [0.0, 1.0]


@pytest.mark.parametrize("size", [1, 4096], ids=["small", "large"])
@pytest.mark.parametrize("a, expected", [(1.0, np.log(2.0)), (0.5, np.inf), (3.0, -np.inf)])
def test_gamma_log_prob_at_zero(a, expected, size):
    # Large tensors take a fused path with its own handling of 0 log 0.
    lp = D.Gamma(torch.full((size,), a), torch.tensor(2.0)).log_prob(torch.tensor(0.0))
    torch.testing.assert_close(lp.double(), torch.full((size,), expected).double())


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_gamma_log_prob_of_large_tensors_matches_torch(dtype):
    torch.manual_seed(0)
    a, rate = torch.rand(5000, dtype=dtype) * 3 + 0.1, torch.rand(5000, dtype=dtype) + 0.2
    x = torch.distributions.Gamma(a, rate).sample()
    ours = D.Gamma(a, rate).log_prob(x)
    torch.testing.assert_close(ours, torch.distributions.Gamma(a, rate).log_prob(x))
    assert D.Gamma(a, rate, validate_args=False).log_prob(x * float("nan")).isnan().all()


# --------------------------------------------- small-concentration sampling
def test_dirichlet_small_concentrations_do_not_collapse():
    # Torch returns exactly (1/3, 1/3, 1/3) for ~12% of draws here. Exact
    # answer: draws are nearly one-hot and each vertex wins with probability
    # 1/3; the chi-square test has a false-alarm rate of 1e-4 (fixed seed).
    torch.manual_seed(0)
    x = D.Dirichlet(torch.full((3,), 1e-3, dtype=torch.float64)).sample((6000,))
    assert x.isfinite().all()
    torch.testing.assert_close(x.sum(-1), torch.ones(6000, dtype=torch.float64))
    assert not (x - 1 / 3).abs().lt(1e-3).all(-1).any()
    counts = torch.bincount(x.argmax(-1), minlength=3).numpy()
    assert scipy.stats.chisquare(counts).pvalue > 1e-4
    # the runner-up weight exceeds 1e-3 only when two log-uniforms nearly tie
    assert (x.max(-1).values > 0.999).float().mean() > 0.95


def test_beta_small_concentrations_sample_both_ends_in_the_right_proportion():
    # P(X > 1/2) = 1 - I_{1/2}(a, b) exactly; binomial test with false-alarm
    # rate 1e-4 (fixed seed), in float32 and float64.
    a, b = 1e-3, 2e-3
    expected = sc.betaincc(a, b, 0.5)
    for dtype in (torch.float64, torch.float32):
        torch.manual_seed(1)
        x = D.Beta(torch.tensor(a, dtype=dtype), torch.tensor(b, dtype=dtype)).sample((6000,))
        assert not x.isnan().any() and ((x >= 0) & (x <= 1)).all()
        hits = int((x > 0.5).sum())
        assert scipy.stats.binomtest(hits, 6000, expected).pvalue > 1e-4


# ------------------------------------------------------- implicit gradients
def test_beta_rsample_gradient_matches_finite_differences_of_the_cdf():
    # dx/da of a draw at fixed u = F(x): -(dF/da) / f(x), dF/da by central
    # differences of scipy's cdf at the drawn x.
    torch.manual_seed(0)
    a = torch.tensor([0.05, 0.6, 4.0, 80.0], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([0.3, 2.5, 0.8, 60.0], dtype=torch.float64, requires_grad=True)
    x = D.Beta(a, b).rsample()
    ga = torch.autograd.grad(x.sum(), a, retain_graph=True)[0].numpy()
    gb = torch.autograd.grad(x.sum(), b)[0].numpy()
    an, bn, xn = a.detach().numpy(), b.detach().numpy(), x.detach().numpy()
    pdf = scipy.stats.beta(an, bn).pdf(xn)
    h = 1e-6
    fd_a = -(sc.betainc(an * (1 + h), bn, xn) - sc.betainc(an * (1 - h), bn, xn)) / (2 * h * an)
    fd_b = -(sc.betainc(an, bn * (1 + h), xn) - sc.betainc(an, bn * (1 - h), xn)) / (2 * h * bn)
    np.testing.assert_allclose(ga, fd_a / pdf, rtol=1e-5)
    np.testing.assert_allclose(gb, fd_b / pdf, rtol=1e-5)


def test_dirichlet_rsample_gradient():
    # Jankowiak & Obermeyer's construction: d x_i / d alpha_i is the implicit
    # gradient of the Beta(alpha_i, sum - alpha_i) marginal, and the draw stays
    # on the simplex, so d(sum_j x_j)/d alpha = 0.
    torch.manual_seed(0)
    alpha = torch.tensor([[0.4, 1.5, 3.0], [0.01, 0.02, 5.0]], dtype=torch.float64)
    alpha.requires_grad_()
    x = D.Dirichlet(alpha).rsample()
    (g_sum,) = torch.autograd.grad(x.sum(), alpha, retain_graph=True)
    torch.testing.assert_close(g_sum, torch.zeros_like(g_sum), atol=1e-10, rtol=0)
    an, xn = alpha.detach().numpy(), x.detach().numpy()
    for row in range(2):
        for i in range(3):
            (g,) = torch.autograd.grad(x[row, i], alpha, retain_graph=True)
            a, rest = an[row, i], an[row].sum() - an[row, i]
            h = 1e-6 * a
            dcdf = (sc.betainc(a + h, rest, xn[row, i]) - sc.betainc(a - h, rest, xn[row, i])) / (
                2 * h
            )
            expected = -dcdf / scipy.stats.beta(a, rest).pdf(xn[row, i])
            np.testing.assert_allclose(g[row, i].item(), expected, rtol=1e-5, atol=1e-300)


def test_dirichlet_gradients_stay_finite_at_tiny_concentrations():
    torch.manual_seed(0)
    alpha = torch.full((200, 3), 1e-3, dtype=torch.float64, requires_grad=True)
    x = D.Dirichlet(alpha).rsample()
    (g,) = torch.autograd.grad((x * torch.tensor([1.0, 2.0, 3.0])).sum(), alpha)
    assert g.isfinite().all()


def test_chi2_gradient_can_be_taken_twice():
    df = torch.tensor([3.0, 7.0], dtype=torch.float64, requires_grad=True)
    d = D.Chi2(df)
    torch.autograd.grad(d.rsample().sum(), df)
    (g,) = torch.autograd.grad(d.mean.sum(), df)
    assert g.tolist() == [1.0, 1.0]


# ----------------------------------------------------------------- errors
def test_dirichlet_rejects_a_scalar_concentration():
    with pytest.raises(
        ValueError, match=r"Dirichlet: 'concentration' must be a tensor with at least one dim"
    ):
        D.Dirichlet(torch.tensor(1.0))


@pytest.mark.parametrize(
    "make, arg",
    [
        (lambda: D.Gamma(torch.tensor([1.0, -2.0]), 1.0), "concentration"),
        (lambda: D.Beta(1.0, torch.tensor(0.0)), "concentration0"),
        (lambda: D.StudentT(torch.tensor(-1.0)), "df"),
        (lambda: D.Chi2(torch.tensor(0.0)), "df"),
        (lambda: D.Dirichlet(torch.tensor([1.0, -1.0])), "concentration"),
    ],
)
def test_invalid_parameters_name_the_argument(make, arg):
    with pytest.raises(ValueError, match=rf"argument '{arg}' must satisfy the constraint"):
        make()


def test_out_of_support_value_is_named():
    with pytest.raises(
        ValueError, match=r"Beta.log_prob: value of shape \(1,\) is outside the support"
    ):
        D.Beta(2.0, 2.0).log_prob(torch.tensor([1.5]))


# ------------------------------------------- laws narrower than one float
F64 = torch.float64


def _brackets(d, u):
    """Whether each ``u`` lies within the cdf over the neighbouring floats of ``icdf(u)``."""
    u = u.to(d.mean.dtype)
    q = d.icdf(u)
    below = d.cdf(torch.nextafter(q, torch.zeros_like(q)))
    above = d.cdf(torch.nextafter(q, torch.full_like(q, float("inf"))))
    return bool(((below <= u) & (u <= above)).all())


@pytest.mark.parametrize(
    "make",
    [
        lambda: D.Gamma(torch.tensor(5.540622484676759e34), torch.tensor(5.540622484676759e34)),
        lambda: D.Chi2(torch.tensor(5.540622484676759e34)),
        lambda: D.InverseGamma(
            torch.tensor(3.102105413038899e17), torch.tensor(1.0259313583374023)
        ),
        lambda: D.Gamma(torch.tensor(5.54e34, dtype=F64), torch.tensor(51135.9, dtype=F64)),
        lambda: D.InverseGamma(torch.tensor(5.54e34, dtype=F64), torch.tensor(1.1162, dtype=F64)),
    ],
    ids=["Gamma", "Chi2", "InverseGamma", "Gamma float64", "InverseGamma float64"],
)
def test_quantiles_of_a_law_narrower_than_a_float_land_on_its_step(make):
    # The law's whole mass lies within a float32 spacing: every quantile must be
    # one of the two floats around the step (Newton in log x once wandered to
    # 2.18 times the mean, and rate / value rounded two neighbours to one).
    assert _brackets(make(), torch.tensor([0.1, 0.5, 0.9]))


@pytest.mark.parametrize("a", [1e6, 1e12, 1e20, 1e26, 1e34])
def test_gamma_quantile_at_huge_concentration_matches_cornish_fisher(a):
    # x_p = a + z sqrt(a) + (z^2 - 1) / 3 + (z^3 - 7 z) / (36 sqrt(a)) + O(1/a)
    # (Cornish & Fisher 1937); the neglected term is below 1e-17 relative from
    # a = 1e6 on. Bulk probabilities only: in the far tails at large a torch's
    # igamma, which Newton's method inverts, is itself off by up to 1e-7.
    p = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    z = torch.special.ndtri(p)
    r = math.sqrt(a)
    expected = a + z * r + (z * z - 1) / 3 + (z**3 - 7 * z) / (36 * r)
    got = D.Gamma(torch.tensor(a, dtype=torch.float64), 1.0).icdf(p)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)


def test_extreme_rates_keep_gamma_and_inverse_gamma_draws_positive_and_scored():
    torch.manual_seed(0)
    cases = [
        D.Gamma(torch.tensor(5.5e34), torch.tensor(8.7e-18)),  # draws past float32's max
        D.Gamma(torch.tensor(2.0), torch.tensor(3e38)),  # draws below float32's tiny
        D.InverseGamma(torch.tensor(5.5e34), torch.tensor(1.8e-35)),
        D.InverseGamma(torch.tensor(9.1e-10), torch.tensor(2.4e17)),
    ]
    for d in cases:
        x = d.sample((500,))
        assert bool((x > 0).all() & x.isfinite().all())
        assert bool(d.log_prob(x).isfinite().all())


def test_gammainc_takes_over_smoothly_at_the_wilson_hilferty_threshold():
    # Either side of a = 1e10 (torch's kernel below, the cube from there) the
    # bulk is the normal law to O(1/sqrt(a)) = 1e-5 and both agree to 1e-12
    # (the cube's error is about 4.5e-3 / a).
    z = torch.tensor([-3.0, -1.0, 0.0, 0.5, 2.0], dtype=F64)
    below, at = (torch.tensor(a, dtype=F64) for a in (9.999999e9, 1e10))
    x_below, x_at = (a + z * a.sqrt() for a in (below, at))
    torch.testing.assert_close(
        D.special.gammainc(below, x_below), torch.special.gammainc(below, x_below), rtol=0, atol=0
    )
    # The same points through the cube, one ulp of a apart from the kernel's side.
    cube = D.special.gammainc(at, x_at)
    kernel = torch.special.gammainc(at, x_at)
    torch.testing.assert_close(cube, kernel, rtol=0, atol=1e-12)
    torch.testing.assert_close(cube, torch.special.ndtr(z), rtol=0, atol=1e-5)
    # At a = 1e22 torch's kernel is off by 2.5e-6; P(a, a) = 1/2 + 1/(3 sqrt(2 pi a))
    # + O(1/a) (Temme), within 1e-10 of 1/2.
    huge = torch.tensor(1e22, dtype=F64)
    assert abs(D.special.gammainc(huge, huge).item() - 0.5) < 1e-10


def test_two_product_is_exact():
    u = torch.tensor([1 / 3, 1e300, 7.0], dtype=F64)
    v = torch.tensor([3.0, 1e-300, 1 / 7], dtype=F64)
    p, e = D.special.two_product(u, v)
    exact = [fractions.Fraction(a) * fractions.Fraction(b) for a, b in zip(u.tolist(), v.tolist())]
    for pi, ei, x in zip(p.tolist(), e.tolist(), exact):
        assert abs(fractions.Fraction(pi) + fractions.Fraction(ei) - x) <= abs(x) * 2.0**-100


@pytest.mark.parametrize("a, b", [(1e9, 3.8), (3.8, 1e9), (5.5e34, 4612.0), (1e12, 0.5)])
def test_lopsided_beta_parameters_answer_quickly_and_match_mpmath(a, b):
    # One parameter 1e8 times the other: the gamma limit, not a fraction of
    # sqrt(max(a, b)) terms (Beta(5.5e34, 4612).icdf timed out). mpmath's betainc
    # is the oracle; x is given with its complement for precision. The quantiles
    # of these float32 laws (narrower than the spacing below 1) must sit on the
    # step, with the cdf past 1 equal to 1 (it was NaN).
    with mpmath.workdps(60):  # 1 - 8e-32 must survive as x
        big, small = max(a, b), min(a, b)
        tail = -mpmath.expm1(-mpmath.mpf(small) / big)  # the short side, near small / big
        x, y = (1 - tail, tail) if a > b else (tail, 1 - tail)
        expected = float(mpmath.betainc(a, b, 0, x, regularized=True))
    t = [torch.tensor(float(v), dtype=F64) for v in (a, b, x, y)]
    assert D.special.betainc(*t).item() == pytest.approx(expected, rel=1e-9)
    d = D.Beta(torch.tensor(a), torch.tensor(b), validate_args=False)  # probes past 1
    assert _brackets(d, torch.tensor([0.1, 0.5, 0.9]))
