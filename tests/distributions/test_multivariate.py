"""Multivariate families: scipy.stats oracles, sampler moments, edge cases and errors.

The generic torch-oracle checks of these families run from
``cases/multivariate.py`` in ``test_oracles.py``; this module covers what the
generic table cannot (matrix-valued scipy oracles, moment checks of samplers,
the error messages).

Moment checks compare a sample mean with its expectation within ``Z`` standard
errors (a per-entry false-alarm rate of about 6e-7 for Gaussian-like error at
``Z = 5``); the seed is fixed, so outcomes are repeatable.
"""

import math
import warnings

import numpy as np
import pytest
import scipy.special
import scipy.stats
import torch
import torch.distributions as tdist

import distributions as D

Z = 5.0


def _spd(*batch, n=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(*batch, n, n, generator=g, dtype=torch.float64)
    return a @ a.mT + n * torch.eye(n, dtype=torch.float64)


def assert_mean_within(samples, expected, variance, what):
    """Sample mean over dim 0 within ``Z`` standard errors of ``expected``."""
    n = samples.shape[0]
    error = (samples.mean(0) - expected).abs()
    bound = Z * (variance / n).sqrt() + 1e-12
    assert bool((error <= bound).all()), f"{what}: |mean error| {error} exceeds {bound}"


def assert_gaussian_moments(samples, mean, cov, what):
    """Mean and covariance of vector samples against a Gaussian's."""
    var = cov.diagonal(dim1=-2, dim2=-1)
    assert_mean_within(samples, mean, var, f"{what} mean")
    centred = samples - mean
    outer = centred.unsqueeze(-1) * centred.unsqueeze(-2)
    # Var of (x_i - m_i)(x_j - m_j) for a Gaussian: S_ij^2 + S_ii S_jj.
    outer_var = cov.pow(2) + var.unsqueeze(-1) * var.unsqueeze(-2)
    assert_mean_within(outer, cov, outer_var, f"{what} covariance")


# ------------------------------------------------------------ MultivariateNormal
@pytest.mark.parametrize("arg", ["covariance_matrix", "precision_matrix", "scale_tril"])
def test_mvn_log_prob_matches_scipy(arg):
    cov = _spd(2)
    loc = torch.tensor([[0.0, 1.0, -1.0], [3.0, 0.0, 0.5]], dtype=torch.float64)
    matrix = {
        "covariance_matrix": cov,
        "precision_matrix": torch.linalg.inv(cov),
        "scale_tril": torch.linalg.cholesky(cov),
    }[arg]
    d = D.MultivariateNormal(loc, **{arg: matrix})
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    for b in range(2):
        ref = scipy.stats.multivariate_normal(loc[b].numpy(), cov[b].numpy())
        expected = torch.as_tensor(ref.logpdf(x[:, b].numpy()))
        torch.testing.assert_close(d.log_prob(x)[:, b], expected)
        torch.testing.assert_close(d.entropy()[b], torch.tensor(ref.entropy()).double())


def test_mvn_sampler_moments():
    torch.manual_seed(10)
    cov = _spd(n=4)
    loc = torch.tensor([1.0, -2.0, 0.0, 0.5], dtype=torch.float64)
    d = D.MultivariateNormal(loc, precision_matrix=torch.linalg.inv(cov))
    assert_gaussian_moments(d.sample((20000,)), loc, cov, "MultivariateNormal")


def test_mvn_log_prob_broadcasts_sample_dims_against_smaller_factor_batch():
    # A (2, 1) batch of factors scored against values of shape (4, 2, 5, 3): the
    # sample dims are folded into one solve and must come back in place.
    cov = _spd(2, 1)
    loc = torch.randn(2, 5, 3, dtype=torch.float64)
    ours = D.MultivariateNormal(loc, covariance_matrix=cov)
    ref = tdist.MultivariateNormal(loc, covariance_matrix=cov)
    x = ref.sample((4,))
    torch.testing.assert_close(ours.log_prob(x), ref.log_prob(x))
    torch.testing.assert_close(ours.log_prob(x[0, :, :1]), ref.log_prob(x[0, :, :1]))


def test_mvn_nearly_singular_covariance_names_the_matrix():
    v = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    singular = torch.stack([torch.eye(3, dtype=torch.float64), v.outer(v)])
    with pytest.raises(
        ValueError,
        match=r"covariance_matrix of shape \(2, 3, 3\) is not "
        r"positive definite.*batch index \(1,\).*jitter.*scale_tril",
    ):
        D.MultivariateNormal(torch.zeros(3, dtype=torch.float64), covariance_matrix=singular)


def test_mvn_singular_matrix_raises_even_without_validation():
    with pytest.raises(ValueError, match=r"precision_matrix of shape \(2, 2\) is not positive"):
        D.MultivariateNormal(torch.zeros(2), precision_matrix=torch.ones(2, 2), validate_args=False)


def test_mvn_nearly_singular_float32_covariance_raises():
    # Correlation 1 - 1e-9 rounds to 1 in float32: singular to working precision.
    cov = torch.tensor([[1.0, 1.0 - 1e-9], [1.0 - 1e-9, 1.0]], dtype=torch.float32)
    with pytest.raises(ValueError, match=r"covariance_matrix \+ 1e-6 \* torch.eye\(2\)"):
        D.MultivariateNormal(torch.zeros(2), covariance_matrix=cov)
    jittered = cov + 1e-6 * torch.eye(2)
    assert D.MultivariateNormal(torch.zeros(2), covariance_matrix=jittered).batch_shape == ()


def test_mvn_asymmetric_covariance_is_rejected_with_its_asymmetry():
    cov = torch.eye(3)
    cov[0, 2] = 0.5
    with pytest.raises(ValueError, match=r"'covariance_matrix'.*not symmetric.*0\.5.*A \+ A\.mT"):
        D.MultivariateNormal(torch.zeros(3), covariance_matrix=cov)


def test_mvn_symmetry_uses_the_constraint_tolerance():
    cov = _spd(4).float()
    cov[2, 0, 1] += 2e-7  # within isclose(atol=1e-6): accepted, as constraints.symmetric does
    assert bool(D.constraints.symmetric.check(cov).all())
    D.MultivariateNormal(torch.zeros(3), covariance_matrix=cov)
    cov[3, 1, 2] += 1e-3
    with pytest.raises(ValueError, match=r"batch index \(3,\) of the tensor of shape \(4, 3, 3\)"):
        D.MultivariateNormal(torch.zeros(3), covariance_matrix=cov)


def test_mvn_bad_scale_tril_is_rejected():
    tril = torch.eye(3)
    tril[1, 1] = -1.0
    with pytest.raises(ValueError, match=r"'scale_tril'.*lower-triangular.*positive diagonal"):
        D.MultivariateNormal(torch.zeros(3), scale_tril=tril)
    upper = torch.eye(3)
    upper[0, 2] = 0.1
    with pytest.raises(ValueError, match=r"'scale_tril'.*torch.linalg.cholesky"):
        D.MultivariateNormal(torch.zeros(3), scale_tril=upper)


@pytest.mark.parametrize(
    "loc, kwargs, match",
    [
        ((2,), {}, r"exactly one of covariance_matrix, precision_matrix or scale_tril.*got none"),
        (
            (2,),
            {"covariance_matrix": torch.eye(2), "scale_tril": torch.eye(2)},
            r"exactly one.*got covariance_matrix, scale_tril",
        ),
        ((2,), {"covariance_matrix": torch.ones(2, 3)}, r"square matrices.*got shape \(2, 3\)"),
        ((2,), {"scale_tril": torch.eye(3)}, r"loc has event size 2.*scale_tril is 3x3"),
        (
            (4, 2),
            {"scale_tril": torch.eye(2).expand(3, 2, 2)},
            r"batch shape \(4,\) of loc does not broadcast with the batch shape \(3,\)",
        ),
    ],
)
def test_mvn_argument_errors(loc, kwargs, match):
    with pytest.raises(ValueError, match=match):
        D.MultivariateNormal(torch.zeros(loc), **kwargs)


def test_mvn_scalar_loc_is_rejected():
    with pytest.raises(ValueError, match=r"loc must be at least one-dimensional.*unsqueeze"):
        D.MultivariateNormal(torch.tensor(0.0), covariance_matrix=torch.eye(1))


def test_mvn_keeps_given_matrix_and_derives_the_others():
    cov = _spd(2)
    d = D.MultivariateNormal(torch.zeros(5, 2, 3, dtype=torch.float64), covariance_matrix=cov)
    assert d.covariance_matrix.shape == (5, 2, 3, 3)
    assert d.covariance_matrix.data_ptr() == cov.data_ptr()  # a view, not a copy
    torch.testing.assert_close(d.precision_matrix[0], torch.linalg.inv(cov))
    torch.testing.assert_close(d.scale_tril[0] @ d.scale_tril[0].mT, cov)
    assert d._unbroadcasted_scale_tril.shape == (2, 3, 3)  # factored once per distinct matrix
    e = d.expand((7, 5, 2))
    assert e.covariance_matrix.shape == (7, 5, 2, 3, 3)
    assert e.log_prob(torch.zeros(3, dtype=torch.float64)).shape == (7, 5, 2)
    assert math.isfinite(e.log_prob(torch.zeros(3, dtype=torch.float64)).sum().item())


def test_mvn_validation_checks_loc():
    with pytest.raises(ValueError, match=r"MultivariateNormal: argument 'loc'.*nan"):
        D.MultivariateNormal(torch.tensor([0.0, float("nan")]), scale_tril=torch.eye(2))


def test_mvn_log_prob_rejects_wrong_event_shape():
    d = D.MultivariateNormal(torch.zeros(3), covariance_matrix=torch.eye(3))
    with pytest.raises(ValueError, match=r"does not end in the event shape \(3,\)"):
        d.log_prob(torch.zeros(2))


def test_mvn_float32_numpy_free_path_agrees_with_float64():
    cov = _spd(3)
    x = torch.randn(6, 3, 3, dtype=torch.float64)
    d64 = D.MultivariateNormal(torch.zeros(3, dtype=torch.float64), covariance_matrix=cov)
    d32 = D.MultivariateNormal(torch.zeros(3), covariance_matrix=cov.float())
    np.testing.assert_allclose(
        d32.log_prob(x.float()).double().numpy(), d64.log_prob(x).numpy(), rtol=1e-5
    )


# ---------------------------------------------------- LowRankMultivariateNormal
def _low_rank(batch=(2,), n=4, rank=2, seed=1):
    g = torch.Generator().manual_seed(seed)
    loc = torch.randn(*batch, n, generator=g, dtype=torch.float64)
    w = torch.randn(n, rank, generator=g, dtype=torch.float64)
    d = torch.rand(*batch, n, generator=g, dtype=torch.float64) + 0.2
    return loc, w, d


def test_low_rank_log_prob_matches_scipy():
    loc, w, d = _low_rank()
    dist = D.LowRankMultivariateNormal(loc, w, d)
    x = torch.randn(6, 2, 4, dtype=torch.float64)
    for b in range(2):
        cov = (w @ w.T + torch.diag(d[b])).numpy()
        ref = scipy.stats.multivariate_normal(loc[b].numpy(), cov)
        torch.testing.assert_close(dist.log_prob(x)[:, b], torch.as_tensor(ref.logpdf(x[:, b])))
        torch.testing.assert_close(dist.entropy()[b], torch.tensor(ref.entropy()).double())
        torch.testing.assert_close(dist.precision_matrix[b], torch.linalg.inv(torch.tensor(cov)))


def test_mvn_log_prob_of_unrepresentable_draws_is_the_rounded_float64_value():
    # The fuzzer's scale_tril: diagonal 2e-9 under off-diagonals of 20 (condition
    # ~1e10, past float32's 1 / eps). A float32 draw rounds by ~1e-6 along the wide
    # directions, thousands of narrow standard deviations: the same point scored in
    # float64 lies below -3.4e38, so float32's -inf is its correct rounding.
    torch.manual_seed(0)
    tril = torch.tensor([[2.06e-9, 0, 0], [-20.0, 2.06e-9, 0], [-20.0, 20.0, 2.06e-9]])
    loc = torch.tensor([0.97, -0.24, 0.18])
    x = D.MultivariateNormal(loc, scale_tril=tril).sample((6,))
    lp32 = D.MultivariateNormal(loc, scale_tril=tril).log_prob(x)
    lp64 = D.MultivariateNormal(loc.double(), scale_tril=tril.double()).log_prob(x.double())
    assert bool(lp32.isinf().any()) and bool(lp64.isfinite().all())
    torch.testing.assert_close(lp32, lp64.float(), rtol=1e-4, atol=0)  # float() rounds to -inf


def _mp_low_rank_log_prob(loc, w, d, x):
    import mpmath

    mpmath.mp.dps = 60
    wm = mpmath.matrix(w.tolist())
    cov = wm * wm.T + mpmath.diag([mpmath.mpf(v) for v in d.tolist()])
    diff = mpmath.matrix([mpmath.mpf(a) - mpmath.mpf(b) for a, b in zip(x.tolist(), loc.tolist())])
    m = (diff.T * mpmath.lu_solve(cov, diff))[0]
    return float(-0.5 * (len(loc) * mpmath.log(2 * mpmath.pi) + mpmath.log(mpmath.det(cov)) + m))


@pytest.mark.parametrize("diag", [1e-12, 1e-18])
def test_low_rank_log_prob_at_tiny_diagonal_matches_mpmath(diag):
    # Covariance condition ~1e15 and ~1e21: the Woodbury form cancels two terms
    # of size |W|^2 / d (torch is off by 0.4 and 8e5 here); the minimizer form is
    # within 1e-5 of 60-digit arithmetic on the same float64 draws.
    torch.manual_seed(0)
    loc = torch.randn(3, dtype=torch.float64)
    w = 40 * torch.randn(3, 2, dtype=torch.float64)
    d = D.LowRankMultivariateNormal(loc, w, torch.full((3,), diag, dtype=torch.float64))
    x = d.sample((3,))
    want = torch.tensor([_mp_low_rank_log_prob(loc, w, d.cov_diag, xi) for xi in x]).double()
    torch.testing.assert_close(d.log_prob(x), want, rtol=0, atol=1e-5)


def test_low_rank_float32_at_tiny_diagonal_and_its_expand():
    # float32, d = 1e-6 with |W| ~ 40: torch's log_prob is off by ~500 nats; the
    # fuzzer's case (d = 1.8e-35) overflowed the capacitance (NaN) and expanded
    # batches rounded the cancellation differently.
    torch.manual_seed(1)
    loc, w = torch.randn(3, dtype=torch.float64), 40 * torch.randn(3, 2, dtype=torch.float64)
    diag = torch.full((3,), 1e-6, dtype=torch.float64)
    d32 = D.LowRankMultivariateNormal(loc.float(), w.float(), diag.float())
    x = d32.sample((4,))
    exact = D.LowRankMultivariateNormal(loc, w, diag).log_prob(x.double())
    torch.testing.assert_close(d32.log_prob(x).double(), exact, rtol=0, atol=1e-2)
    tiny = D.LowRankMultivariateNormal(loc.float(), w.float(), torch.full((3,), 1.8e-35))
    x = tiny.sample((2,))
    assert bool(tiny.log_prob(x).isfinite().all())
    wide = tiny.expand((2,))
    torch.testing.assert_close(wide.log_prob(x[:1].expand(2, 3)), tiny.log_prob(x[:1]).expand(2))


def test_gaussians_with_empty_batches():
    # min() of an empty diagonal and a reshape to (-1, 0, ...) used to raise.
    mvn = D.MultivariateNormal(torch.zeros(0, 3), scale_tril=torch.eye(3).expand(0, 3, 3))
    low = D.LowRankMultivariateNormal(torch.zeros(0, 3), torch.ones(3, 2), torch.ones(0, 3))
    for d in (mvn, low):
        assert d.log_prob(d.sample((2,))).shape == (2, 0)


def test_low_rank_sampler_moments():
    torch.manual_seed(11)
    loc, w, d = _low_rank(batch=())
    dist = D.LowRankMultivariateNormal(loc, w, d)
    cov = w @ w.T + torch.diag(d)
    assert_gaussian_moments(dist.rsample((20000,)), loc, cov, "LowRankMultivariateNormal")


@pytest.mark.parametrize(
    "shapes, match",
    [
        (((3,), (2, 1), (3,)), r"cov_factor must be a batch of 3 x rank matrices.*\(2, 1\)"),
        (((3,), (3, 1), (2,)), r"cov_diag must be a batch of vectors of length 3.*\(2,\)"),
        (((), (3, 1), (3,)), r"loc must be at least one-dimensional"),
        (((2, 3), (4, 3, 1), (3,)), r"batch shapes of loc \(2,\), cov_factor \(4,\)"),
    ],
)
def test_low_rank_shape_errors(shapes, match):
    loc, w, d = (torch.ones(s) for s in shapes)
    with pytest.raises(ValueError, match=match):
        D.LowRankMultivariateNormal(loc, w, d)


def test_low_rank_bad_diagonal_is_named():
    with pytest.raises(ValueError, match=r"argument 'cov_diag' must satisfy.*x > 0"):
        D.LowRankMultivariateNormal(torch.zeros(2), torch.ones(2, 1), torch.tensor([1.0, -1.0]))
    nan_diag = torch.tensor([1.0, float("nan")])
    with pytest.raises(ValueError, match=r"capacitance matrix.*cov_diag is probably zero, tiny"):
        D.LowRankMultivariateNormal(torch.zeros(2), torch.ones(2, 1), nan_diag, validate_args=False)


# --------------------------------------------------------------- LogisticNormal
def test_logistic_normal_sampler_pulls_back_to_the_normal():
    torch.manual_seed(12)
    loc = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    scale = torch.tensor([0.3, 1.0, 2.0], dtype=torch.float64)
    y = D.LogisticNormal(loc, scale).rsample((20000,))
    assert torch.allclose(y.sum(-1), torch.ones(()).double()) and bool((y > 0).all())
    x = D.transforms.StickBreakingTransform().inv(y)
    assert_mean_within(x, loc, scale**2, "LogisticNormal pulled back")
    assert_mean_within((x - loc) ** 2, scale**2, 2 * scale**4, "LogisticNormal pulled back var")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_logistic_normal_draws_pull_back_where_the_sigmoid_rounds_to_one(dtype):
    # sigmoid(40) is 1 in float32: a clipped stick fraction mapped x = 41.4 back to
    # about 16 (and huge scales gave pieces of exactly 0, log_prob NaN). The last
    # piece here is exp(-72), inside float32's range (see the fuzzer's KNOWN for
    # what is not representable).
    torch.manual_seed(3)
    loc = torch.tensor([41.4, 20.8, 10.2], dtype=dtype)
    narrow = D.LogisticNormal(loc, torch.full((3,), 1e-3, dtype=dtype))
    y = narrow.sample((4,))
    x = D.transforms.StickBreakingTransform().inv(y)
    torch.testing.assert_close(x, loc.expand(4, 3), rtol=0, atol=5e-3)  # 5 scales
    wide64 = D.LogisticNormal(loc.double(), torch.full((3,), 1e-3, dtype=torch.float64))
    # Within what a float32 round trip can hold (x to an ulp of 41, 4e-3 scales).
    torch.testing.assert_close(
        narrow.log_prob(y).double(), wide64.log_prob(y.double()), rtol=0, atol=0.1
    )
    wide = D.LogisticNormal(
        torch.full((3,), 80.0, dtype=dtype), torch.full((3,), 5.5e34, dtype=dtype)
    )
    y = wide.sample((50,))
    assert bool((y > 0).all()) and bool(wide.log_prob(y).isfinite().all())


def test_stick_breaking_matches_torch_at_moderate_inputs():
    x = torch.randn(20, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 3
    ours, ref = D.transforms.StickBreakingTransform(), tdist.transforms.StickBreakingTransform()
    y = ours(x)
    torch.testing.assert_close(y, ref(x))
    torch.testing.assert_close(ours.log_abs_det_jacobian(x, y), ref.log_abs_det_jacobian(x, y))


def test_logistic_normal_errors_name_the_argument_and_support():
    with pytest.raises(ValueError, match=r"LogisticNormal: argument 'scale' must satisfy.*x > 0"):
        D.LogisticNormal(torch.zeros(2), torch.tensor([1.0, -1.0]))
    d = D.LogisticNormal(torch.zeros(2), torch.ones(2))
    with pytest.raises(ValueError, match=r"LogisticNormal.log_prob.*outside the support"):
        d.log_prob(torch.tensor([0.5, 0.5, 0.5]))


# ---------------------------------------------------------------------- Wishart
def _torch_wishart_samples(ref, shape):
    # torch's Wishart.rsample warns "Singular sample detected." on valid draws.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return ref.sample(shape)


@pytest.mark.parametrize("arg", ["covariance_matrix", "precision_matrix", "scale_tril"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_wishart_matches_torch(arg, dtype):
    cov = _spd(2)
    matrix = {
        "covariance_matrix": cov,
        "precision_matrix": torch.linalg.inv(cov),
        "scale_tril": torch.linalg.cholesky(cov),
    }[arg]
    df = torch.tensor([3.5, 7.0], dtype=torch.float64)
    ref = tdist.Wishart(df, **{arg: matrix})
    ours = D.Wishart(df.to(dtype), **{arg: matrix.to(dtype)})
    x = _torch_wishart_samples(ref, (5,))
    tol = 1e-6 if dtype == torch.float64 else 1e-4
    close = dict(rtol=tol, atol=tol, check_dtype=False)
    torch.testing.assert_close(ours.log_prob(x.to(dtype)), ref.log_prob(x), **close)
    for stat in ["mean", "variance", "covariance_matrix", "precision_matrix", "scale_tril"]:
        torch.testing.assert_close(getattr(ours, stat), getattr(ref, stat), **close)
    torch.testing.assert_close(ours.mode, ref.mode, equal_nan=True, **close)
    torch.testing.assert_close(ours.entropy(), ref.entropy(), **close)
    assert torch.equal(ours.support.check(x.to(dtype)), ref.support.check(x))


def test_wishart_log_prob_and_entropy_match_scipy():
    cov = _spd(n=3, seed=4)
    d = D.Wishart(5.5, covariance_matrix=cov)
    x = d.sample((4,))
    ref = scipy.stats.wishart(df=5.5, scale=cov.numpy())
    expected = torch.as_tensor(ref.logpdf(np.moveaxis(x.numpy(), 0, -1)))
    torch.testing.assert_close(d.log_prob(x), expected)
    torch.testing.assert_close(d.entropy(), torch.tensor(ref.entropy(), dtype=torch.float64))


def test_wishart_sampler_moments():
    torch.manual_seed(13)
    cov = _spd(n=3, seed=5)
    d = D.Wishart(torch.tensor(4.5, dtype=torch.float64), covariance_matrix=cov)
    assert_mean_within(d.rsample((20000,)), d.mean, d.variance, "Wishart")


def test_wishart_number_df_with_batched_matrix():
    # torch keeps a number df unbatched and then fails in mean/variance/mode.
    d = D.Wishart(4.0, scale_tril=torch.eye(2).expand(3, 2, 2))
    assert d.df.shape == (3,)
    torch.testing.assert_close(d.mean, 4.0 * torch.eye(2).expand(3, 2, 2))
    assert d.variance.shape == d.mode.shape == (3, 2, 2)


def test_wishart_errors():
    with pytest.raises(ValueError, match=r"Wishart: df must exceed the dimension minus one \(2\)"):
        D.Wishart(2.0, covariance_matrix=torch.eye(3))
    with pytest.warns(UserWarning, match=r"df < 3 \(the dimension\).*numerically singular"):
        D.Wishart(2.5, covariance_matrix=torch.eye(3))
    with pytest.raises(ValueError, match=r"Wishart: covariance_matrix of shape \(2, 2\) is not "):
        D.Wishart(3.0, covariance_matrix=torch.ones(2, 2))
    with pytest.raises(ValueError, match=r"Wishart: exactly one of"):
        D.Wishart(3.0)
    with pytest.raises(ValueError, match=r"df of shape \(4,\) does not broadcast.*\(3,\)"):
        D.Wishart(torch.full((4,), 3.0), covariance_matrix=torch.eye(2).expand(3, 2, 2))
    d = D.Wishart(3.0, covariance_matrix=torch.eye(2))
    with pytest.raises(ValueError, match=r"Wishart.log_prob.*outside the support.*positive def"):
        d.log_prob(-torch.eye(2))


def test_wishart_redraws_singular_samples_and_warns_about_the_rest():
    torch.manual_seed(14)
    with pytest.warns(UserWarning, match="df < 3"):
        d = D.Wishart(torch.tensor(2.0001), covariance_matrix=torch.eye(3))
    with pytest.warns(UserWarning, match=r"sample\(s\) are numerically singular after 0 redraws"):
        first = d.rsample((200,), max_try_correction=0)
    with pytest.warns(UserWarning, match=r"after 3 redraws; increase df or max_try_correction"):
        redrawn = d.rsample((200,), max_try_correction=3)
    singular = [int((torch.linalg.cholesky_ex(s).info != 0).sum()) for s in (first, redrawn)]
    assert singular[1] < singular[0]


# ------------------------------------------------------------------ LKJCholesky
@pytest.mark.parametrize("dim, eta", [(2, 0.5), (4, 1.0), (5, 2.5)])
def test_lkj_sampler_marginals_are_symmetric_betas(dim, eta):
    # Under LKJ(eta) every correlation r_ij satisfies (r + 1) / 2 ~ Beta(b, b) with
    # b = eta - 1 + dim / 2 (Lewandowski et al. 2009). One KS test per entry, each
    # with false-alarm rate 1e-4. (torch 2.13's onion sampler fails this for
    # dim >= 3: it draws the row norms with Beta(k - 1/2, .) instead of Beta(k/2, .).)
    torch.manual_seed(15)
    factor = D.LKJCholesky(dim, torch.tensor(eta, dtype=torch.float64)).sample((4000,))
    assert bool(D.constraints.corr_cholesky.check(factor).all())
    corr = factor @ factor.mT
    b = eta - 1 + dim / 2
    for i in range(1, dim):
        for j in range(i):
            u = ((corr[:, i, j] + 1) / 2).numpy()
            p = scipy.stats.kstest(u, scipy.stats.beta(b, b).cdf).pvalue
            assert p > 1e-4, f"LKJCholesky({dim}, {eta}): KS p-value {p:.2e} for r[{i},{j}]"


def test_lkj_density_dim2_is_the_scaled_beta():
    eta = 1.7
    r = torch.linspace(-0.95, 0.95, 9, dtype=torch.float64)
    factor = torch.zeros(9, 2, 2, dtype=torch.float64)
    factor[:, 0, 0], factor[:, 1, 0], factor[:, 1, 1] = 1.0, r, (1 - r**2).sqrt()
    lp = D.LKJCholesky(2, torch.tensor(eta, dtype=torch.float64)).log_prob(factor)
    # Density of r = 2B - 1 with B ~ Beta(eta, eta), w.r.t. the free entry r.
    expected = scipy.stats.beta(eta, eta).logpdf(((r + 1) / 2).numpy()) - math.log(2)
    torch.testing.assert_close(lp, torch.as_tensor(expected))


def test_lkj_density_dim3_integrates_to_one():
    # Importance sampling with a uniform proposal on the free entries (row 1 in
    # (-1, 1), row 2 in the unit disk; volume 2 pi). 400k draws put the relative
    # standard error near 0.2%; the 2% tolerance is about 10 standard errors.
    torch.manual_seed(16)
    n = 400_000
    w1 = torch.rand(n, dtype=torch.float64) * 2 - 1
    radius, angle = torch.rand(n, dtype=torch.float64).sqrt(), torch.rand(n) * 2 * math.pi
    w2 = torch.stack([radius * angle.cos(), radius * angle.sin()], -1)
    factor = torch.zeros(n, 3, 3, dtype=torch.float64)
    factor[:, 0, 0] = 1.0
    factor[:, 1, 0], factor[:, 1, 1] = w1, (1 - w1**2).sqrt()
    factor[:, 2, :2], factor[:, 2, 2] = w2, (1 - radius**2).sqrt()
    d = D.LKJCholesky(3, torch.tensor(2.0, dtype=torch.float64), validate_args=False)
    integral = 2 * math.pi * d.log_prob(factor).exp().mean().item()
    assert abs(integral - 1) < 0.02, integral


def test_lkj_errors():
    with pytest.raises(ValueError, match=r"LKJCholesky: dim must be an integer >= 2.*got 1"):
        D.LKJCholesky(1)
    with pytest.raises(ValueError, match=r"LKJCholesky: argument 'concentration'.*x > 0"):
        D.LKJCholesky(3, torch.tensor([1.0, -0.5]))
    d = D.LKJCholesky(2)
    with pytest.raises(ValueError, match=r"LKJCholesky.log_prob.*outside the support.*unit-norm"):
        d.log_prob(torch.eye(2) * 2)


# ----------------------------------------------- Exp/RelaxedOneHotCategorical
def test_exp_relaxed_categorical_matches_torch():
    from torch.distributions.relaxed_categorical import ExpRelaxedCategorical as Ref

    from distributions.relaxed_categorical import ExpRelaxedCategorical

    logits = torch.tensor([[0.5, -1.0, 0.0], [2.0, 0.1, -0.3]], dtype=torch.float64)
    t = torch.tensor(0.6, dtype=torch.float64)
    ours, ref = ExpRelaxedCategorical(t, logits=logits), Ref(t, logits=logits)
    x = ref.sample((5,))
    torch.testing.assert_close(ours.log_prob(x), ref.log_prob(x))
    torch.testing.assert_close(ours.probs, ref.probs)
    assert ours.support.event_dim == 1 and ours.param_shape == (2, 3)
    big = ours.expand((4, 2))
    assert big.rsample().shape == (4, 2, 3) and big.log_prob(x[0]).shape == (4, 2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_relaxed_one_hot_draws_stay_inside_the_simplex_at_small_temperature(dtype):
    # At t = 1e-3 the log-space draws fall below log(tiny) even in float64: their
    # exp was exactly 0 and log_prob NaN (torch: NaN too). Raised to tiny they
    # keep a finite log-density, and argmax is still the categorical draw.
    torch.manual_seed(5)
    probs = torch.tensor([0.2, 0.3, 0.5], dtype=dtype)
    for t in (1e-3, 1e-17, 1e-35):
        d = D.RelaxedOneHotCategorical(torch.tensor(t, dtype=dtype), probs=probs)
        y = d.sample((6,))
        assert bool((y > 0).all()) and bool(d.support.check(y).all())
        assert bool(d.log_prob(y).isfinite().all())
    # Where nothing underflows the density is torch's.
    t = torch.tensor(0.7, dtype=torch.float64)
    ours = D.RelaxedOneHotCategorical(t, probs=probs.double())
    ref = tdist.RelaxedOneHotCategorical(t, probs=probs.double())
    y = ref.sample((5,))
    torch.testing.assert_close(ours.log_prob(y), ref.log_prob(y))


def test_relaxed_argmax_is_categorical_at_any_temperature():
    # Gumbel-max: argmax of a Concrete draw is exactly Categorical(probs), whatever the
    # temperature. Chi-square goodness of fit, false-alarm rate 1e-4.
    torch.manual_seed(17)
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    draws = D.RelaxedOneHotCategorical(torch.tensor(3.0), probs=probs).sample((20000,))
    counts = torch.bincount(draws.argmax(-1), minlength=4).numpy()
    p = scipy.stats.chisquare(counts, (probs * 20000).numpy()).pvalue
    assert p > 1e-4, f"argmax frequencies {counts}, chi-square p-value {p:.2e}"


@pytest.mark.parametrize("temperature", [0.3, 1.0, 2.5])
def test_relaxed_two_categories_have_the_logistic_cdf(temperature):
    # With K = 2, y_1 = sigmoid((l + L) / t) for logistic L and l = log(p_1 / p_2), so
    # P(y_1 <= s) = sigmoid(t logit(s) - l). KS test, false-alarm rate 1e-4.
    torch.manual_seed(18)
    probs = torch.tensor([0.3, 0.7], dtype=torch.float64)
    d = D.RelaxedOneHotCategorical(torch.tensor(temperature, dtype=torch.float64), probs=probs)
    y = d.rsample((4000,))[:, 0].numpy()
    shift = math.log(0.3 / 0.7)
    cdf = lambda s: scipy.special.expit(temperature * scipy.special.logit(s) - shift)  # noqa: E731
    assert scipy.stats.kstest(y, cdf).pvalue > 1e-4


def test_relaxed_batched_temperature():
    temperature = torch.tensor([0.5, 2.0], dtype=torch.float64)
    logits = torch.tensor([[0.0, 1.0, -1.0], [0.3, 0.2, 0.1]], dtype=torch.float64)
    d = D.RelaxedOneHotCategorical(temperature, logits=logits)
    x = d.rsample((6,))
    assert d.batch_shape == (2,) and x.shape == (6, 2, 3)
    for i in range(2):
        one = tdist.RelaxedOneHotCategorical(temperature[i], logits=logits[i])
        torch.testing.assert_close(d.log_prob(x)[:, i], one.log_prob(x[:, i]))


def test_relaxed_errors():
    with pytest.raises(ValueError, match=r"RelaxedOneHotCategorical.*exactly one of probs or log"):
        D.RelaxedOneHotCategorical(torch.tensor(1.0), torch.ones(3) / 3, torch.zeros(3))
    with pytest.raises(ValueError, match=r"argument 'temperature' must satisfy.*x > 0"):
        D.RelaxedOneHotCategorical(torch.tensor(0.0), logits=torch.zeros(3))
    with pytest.raises(ValueError, match=r"argument 'probs' must satisfy.*probability vector"):
        D.RelaxedOneHotCategorical(torch.tensor(1.0), probs=torch.tensor([0.5, -0.2, 0.7]))
    with pytest.raises(
        ValueError,
        match=r"RelaxedOneHotCategorical: temperature of shape \(3,\) does not broadcast with "
        r"the batch shape \(2,\)",
    ):
        D.RelaxedOneHotCategorical(torch.ones(3), logits=torch.zeros(2, 4))
    d = D.RelaxedOneHotCategorical(torch.tensor(1.0), logits=torch.zeros(3))
    with pytest.raises(ValueError, match=r"RelaxedOneHotCategorical.log_prob.*outside the support"):
        d.log_prob(torch.tensor([0.5, 0.6, 0.1]))


# ------------------------------------------------------------ MixtureSameFamily
class _StandInCategorical(D.Distribution):
    """The part of the Categorical API a mixture relies on (logits, sample, expand).

    Used until distributions.Categorical exists; with it, the tests below run for both.
    """

    arg_constraints: dict = {}
    support = D.constraints.nonnegative_integer

    def __init__(self, logits):
        self.logits = logits - logits.logsumexp(-1, keepdim=True)
        super().__init__(logits.shape[:-1])

    def expand(self, batch_shape, _instance=None):
        return _StandInCategorical(
            self.logits.expand(torch.Size(batch_shape) + self.logits.shape[-1:])
        )

    def sample(self, sample_shape=torch.Size()):
        u = torch.rand(torch.Size(sample_shape) + self.logits.shape, dtype=self.logits.dtype)
        return (self.logits - (-u.log()).log()).argmax(-1)  # Gumbel-max


MIXERS = {"stand-in": _StandInCategorical}
if hasattr(D, "Categorical"):
    MIXERS["Categorical"] = lambda logits: D.Categorical(logits=logits)
mixers = pytest.mark.parametrize("mixer", list(MIXERS.values()), ids=list(MIXERS))


@mixers
@pytest.mark.parametrize("logits_shape", [(2, 3), (3,)], ids=["batched", "shared"])
def test_mixture_of_normals_matches_torch(mixer, logits_shape):
    g = torch.Generator().manual_seed(19)
    logits = torch.randn(logits_shape, generator=g, dtype=torch.float64)
    loc = torch.randn(2, 3, generator=g, dtype=torch.float64)
    scale = torch.rand(2, 3, generator=g, dtype=torch.float64) + 0.5
    ours = D.MixtureSameFamily(mixer(logits), D.Normal(loc, scale))
    ref = tdist.MixtureSameFamily(tdist.Categorical(logits=logits), tdist.Normal(loc, scale))
    # Not ref.sample(): torch fails to sample when the mixing batch is smaller (3,).
    x = 3 * torch.randn(5, 2, generator=g, dtype=torch.float64)
    assert ours.batch_shape == ref.batch_shape and ours.event_shape == ()
    torch.testing.assert_close(ours.log_prob(x), ref.log_prob(x))
    torch.testing.assert_close(ours.cdf(x), ref.cdf(x))
    torch.testing.assert_close(ours.mean, ref.mean)
    torch.testing.assert_close(ours.variance, ref.variance)
    assert torch.equal(ours.support.check(x), ref.support.check(x))
    assert ours.sample((4,)).shape == (4, 2)
    big = ours.expand((6, 2))
    assert big.sample().shape == (6, 2) and big.log_prob(x[0]).shape == (6, 2)


@mixers
def test_mixture_of_multivariate_normals_matches_torch(mixer):
    g = torch.Generator().manual_seed(20)
    logits = torch.randn(3, generator=g, dtype=torch.float64)
    loc = torch.randn(3, 2, generator=g, dtype=torch.float64)
    cov = _spd(3, n=2)
    ours = D.MixtureSameFamily(mixer(logits), D.MultivariateNormal(loc, cov))
    ref = tdist.MixtureSameFamily(
        tdist.Categorical(logits=logits), tdist.MultivariateNormal(loc, cov)
    )
    x = ref.sample((5,))
    assert ours.event_shape == (2,) and ours.sample((4,)).shape == (4, 2)
    torch.testing.assert_close(ours.log_prob(x), ref.log_prob(x))
    torch.testing.assert_close(ours.mean, ref.mean)
    torch.testing.assert_close(ours.variance, ref.variance)


@mixers
def test_mixture_sampler_kolmogorov_smirnov(mixer):
    # KS test against the mixture cdf, false-alarm rate 1e-4, fixed seed.
    torch.manual_seed(21)
    logits = torch.tensor([0.2, 1.0, -0.5], dtype=torch.float64)
    loc = torch.tensor([-3.0, 0.0, 4.0], dtype=torch.float64)
    scale = torch.tensor([1.0, 0.5, 2.0], dtype=torch.float64)
    d = D.MixtureSameFamily(mixer(logits), D.Normal(loc, scale))
    x = d.sample((4000,)).numpy()
    w = torch.softmax(logits, -1).numpy()

    def cdf(v):
        return sum(w[k] * scipy.stats.norm(loc[k].item(), scale[k].item()).cdf(v) for k in range(3))

    assert scipy.stats.kstest(x, cdf).pvalue > 1e-4


def test_mixture_errors():
    normal = D.Normal(torch.zeros(3), 1.0)
    with pytest.raises(
        ValueError,
        match=r"mixture_distribution must be a Categorical.*got "
        r"distributions.normal.Normal.*distributions.Categorical\(logits=...\)",
    ):
        D.MixtureSameFamily(D.Normal(0.0, 1.0), normal)
    with pytest.raises(ValueError, match=r"must be a Categorical.*torch.distributions"):
        D.MixtureSameFamily(tdist.Categorical(logits=torch.zeros(3)), normal)
    with pytest.raises(ValueError, match=r"must equal the mixture's 2 categories.*\(3,\)"):
        D.MixtureSameFamily(_StandInCategorical(torch.zeros(2)), normal)
    with pytest.raises(ValueError, match=r"component_distribution must be a distributions.Dis"):
        D.MixtureSameFamily(_StandInCategorical(torch.zeros(3)), tdist.Normal(torch.zeros(3), 1))
    with pytest.raises(ValueError, match=r"batch_shape \(4,\) does not broadcast.*\(2,\)"):
        D.MixtureSameFamily(
            _StandInCategorical(torch.zeros(4, 3)), D.Normal(torch.zeros(2, 3), 1.0)
        )
    mix = D.MixtureSameFamily(
        _StandInCategorical(torch.zeros(2)),
        D.Wishart(torch.tensor([3.0, 4.0]), covariance_matrix=torch.eye(2)),
    )
    with pytest.raises(ValueError, match=r"MixtureSameFamily.log_prob.*outside the support"):
        mix.log_prob(-torch.eye(2))


def test_scale_tril_check_agrees_with_the_constraint_on_edge_values():
    from distributions.linalg import check_lower_cholesky

    cases = {
        "nan below": [[1.0, 0.0], [math.nan, 1.0]],
        "inf below": [[1.0, 0.0], [math.inf, 1.0]],
        "nan diagonal": [[math.nan, 0.0], [0.0, 1.0]],
        "negative zero above": [[1.0, -0.0], [0.5, 1.0]],
        "zero diagonal": [[0.0, 0.0], [0.5, 1.0]],
    }
    for what, rows in cases.items():
        matrix = torch.tensor(rows)
        expected = bool(D.constraints.lower_cholesky.check(matrix))
        try:
            check_lower_cholesky("MultivariateNormal", "scale_tril", matrix)
            accepted = True
        except ValueError:
            accepted = False
        assert accepted == expected, what
