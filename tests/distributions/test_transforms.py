"""Transforms: round trips, log-dets against autograd Jacobians, shapes, caching, torch oracle."""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import torch
import torch.distributions as td
import torch.distributions.transforms as tt

import distributions.transforms as T
from distributions import Normal, constraints
from distributions.utils import tril_matrix_to_vec, vec_to_tril_matrix

DTYPES = [torch.float32, torch.float64]


def _randn(shape, dtype):
    return torch.randn(shape, dtype=dtype)


def _positive(shape, dtype):
    return torch.randn(shape, dtype=dtype).exp()


def _flat(v):
    return v.reshape(-1)


@dataclass
class Case:
    """One transform, its torch twin, and how to sample its domain.

    ``coords_in``/``from_coords``/``coords_out`` pick the free coordinates of one
    event, so ``log_abs_det_jacobian`` can be compared with ``slogdet`` of the
    autograd Jacobian between them.
    """

    name: str
    ours: Callable
    theirs: Callable | None
    event_shape: tuple
    sample: Callable = _randn
    coords_in: Callable = _flat
    from_coords: Callable | None = None
    coords_out: Callable = _flat
    torch_ladj: bool = True
    batchable: bool = True  # False when ``dim`` points at the leading dim
    tol: dict | None = None
    extra: dict = field(default_factory=dict)


def _tril_in(v):
    return tril_matrix_to_vec(v)


def _fill_corr(v):
    """Completes a strictly lower triangle to a factor with unit-norm rows.

    The free coordinates of a correlation Cholesky factor are its strictly lower
    entries; the diagonal takes the rest of each row's unit norm.
    """
    lower = vec_to_tril_matrix(v, diag=-1)
    diag = (1 - (lower * lower).sum(-1)).sqrt()
    return lower + diag.diag_embed()


CASES = [
    Case("exp", T.ExpTransform, tt.ExpTransform, (3,)),
    Case("exp_inv", lambda: T.ExpTransform().inv, lambda: tt.ExpTransform().inv, (3,), _positive),
    Case("power", lambda: T.PowerTransform(2.5), lambda: tt.PowerTransform(2.5), (3,), _positive),
    Case(
        "power_vec",
        lambda: T.PowerTransform(torch.tensor([0.5, -1.5, 2.0])),
        lambda: tt.PowerTransform(torch.tensor([0.5, -1.5, 2.0])),
        (3,),
        _positive,
    ),
    Case("sigmoid", T.SigmoidTransform, tt.SigmoidTransform, (3,)),
    Case("tanh", T.TanhTransform, tt.TanhTransform, (3,)),
    Case("softplus", T.SoftplusTransform, tt.SoftplusTransform, (3,)),
    Case("abs", T.AbsTransform, tt.AbsTransform, (3,), torch_ladj=False),
    Case(
        "affine", lambda: T.AffineTransform(1.5, -2.0), lambda: tt.AffineTransform(1.5, -2.0), (3,)
    ),
    Case(
        "affine_tensor",
        lambda: T.AffineTransform(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5, -2.0, 3.0])),
        lambda: tt.AffineTransform(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5, -2.0, 3.0])),
        (3,),
    ),
    Case(
        "affine_event",
        lambda: T.AffineTransform(1.0, torch.tensor([0.5, -2.0, 3.0]), event_dim=1),
        lambda: tt.AffineTransform(1.0, torch.tensor([0.5, -2.0, 3.0]), event_dim=1),
        (3,),
    ),
    Case(
        "compose",
        lambda: T.ComposeTransform([T.AffineTransform(0.5, 2.0), T.ExpTransform()]),
        lambda: tt.ComposeTransform([tt.AffineTransform(0.5, 2.0), tt.ExpTransform()]),
        (3,),
    ),
    Case(
        "compose_vector",
        lambda: T.ComposeTransform([T.TanhTransform(), T.StickBreakingTransform()]),
        lambda: tt.ComposeTransform([tt.TanhTransform(), tt.StickBreakingTransform()]),
        (3,),
        coords_out=lambda y: y[:-1],
    ),
    Case("identity", lambda: T.identity_transform, lambda: tt.identity_transform, (3,)),
    Case(
        "independent",
        lambda: T.IndependentTransform(T.SigmoidTransform(), 1),
        lambda: tt.IndependentTransform(tt.SigmoidTransform(), 1),
        (2, 3),
    ),
    Case(
        "reshape",
        lambda: T.ReshapeTransform((2, 3), (6,)),
        lambda: tt.ReshapeTransform((2, 3), (6,)),
        (2, 3),
    ),
    Case(
        "cat_event",
        lambda: T.CatTransform(
            [
                T.ExpTransform(),
                T.AffineTransform(1.0, 2.0),
                T.IndependentTransform(T.TanhTransform(), 1),
            ],
            dim=-1,
            lengths=[2, 1, 3],
        ),
        lambda: tt.CatTransform(
            [
                tt.ExpTransform(),
                tt.AffineTransform(1.0, 2.0),
                tt.IndependentTransform(tt.TanhTransform(), 1),
            ],
            dim=-1,
            lengths=[2, 1, 3],
        ),
        (6,),
        torch_ladj=False,  # torch cannot mix event dims within one event
    ),
    Case(
        "cat_batch",
        lambda: T.CatTransform([T.ExpTransform(), T.TanhTransform()], dim=0, lengths=[1, 2]),
        lambda: tt.CatTransform([tt.ExpTransform(), tt.TanhTransform()], dim=0, lengths=[1, 2]),
        (3, 2),
        batchable=False,
    ),
    Case(
        "stack_batch",
        lambda: T.StackTransform([T.ExpTransform(), T.SigmoidTransform()], dim=0),
        lambda: tt.StackTransform([tt.ExpTransform(), tt.SigmoidTransform()], dim=0),
        (2, 3),
        batchable=False,
    ),
    Case(
        "stack_event",
        lambda: T.StackTransform([T.ExpTransform(), T.SoftplusTransform()], dim=-1),
        lambda: tt.StackTransform([tt.ExpTransform(), tt.SoftplusTransform()], dim=-1),
        (3, 2),
        extra={"torch_ladj_sum": 1},  # torch leaves the stacked event dim unreduced
    ),
    Case(
        "stick_breaking",
        T.StickBreakingTransform,
        tt.StickBreakingTransform,
        (4,),
        coords_out=lambda y: y[:-1],
    ),
    Case("softmax", T.SoftmaxTransform, tt.SoftmaxTransform, (4,), torch_ladj=False),
    Case(
        "lower_cholesky",
        T.LowerCholeskyTransform,
        tt.LowerCholeskyTransform,
        (3, 3),
        coords_in=_tril_in,
        from_coords=vec_to_tril_matrix,
        coords_out=_tril_in,
        torch_ladj=False,
    ),
    Case(
        "positive_definite",
        T.PositiveDefiniteTransform,
        tt.PositiveDefiniteTransform,
        (3, 3),
        coords_in=_tril_in,
        from_coords=vec_to_tril_matrix,
        coords_out=_tril_in,
        torch_ladj=False,
    ),
    Case(
        "corr_cholesky",
        T.CorrCholeskyTransform,
        tt.CorrCholeskyTransform,
        (6,),
        coords_out=lambda y: tril_matrix_to_vec(y, diag=-1),
    ),
    Case(
        "corr_cholesky_inv",
        lambda: T.CorrCholeskyTransform().inv,
        lambda: tt.CorrCholeskyTransform().inv,
        (3, 3),
        sample=lambda s, d: T.CorrCholeskyTransform()(torch.randn(s[:-2] + (3,), dtype=d)),
        coords_in=lambda v: tril_matrix_to_vec(v, diag=-1),
        from_coords=_fill_corr,
    ),
    Case(
        "cdf",
        lambda: T.CumulativeDistributionTransform(Normal(0.5, 2.0)),
        lambda: tt.CumulativeDistributionTransform(td.Normal(0.5, 2.0)),
        (3,),
        tol={"atol": 1e-7, "rtol": 1e-6},  # icdf of Normal is accurate to ~1e-8
    ),
]


def _cast(t, dtype):
    """Moves tensor parameters of a transform (and its parts) to ``dtype``."""
    for attr in ("loc", "scale", "exponent"):
        value = getattr(t, attr, None)
        if isinstance(value, torch.Tensor):
            setattr(t, attr, value.to(dtype))
    for part in getattr(t, "parts", []) + getattr(t, "transforms", []):
        _cast(part, dtype)
    if hasattr(t, "base_transform"):
        _cast(t.base_transform, dtype)
    return t


def _build(case, dtype, batch=(2,)):
    ours, theirs = _cast(case.ours(), dtype), None
    if case.theirs is not None:
        theirs = _cast(case.theirs(), dtype)
    x = case.sample((batch if case.batchable else ()) + case.event_shape, dtype)
    return ours, theirs, x


def _tol(dtype, case=None):
    if case is not None and case.tol is not None and dtype == torch.float64:
        return case.tol
    return {"atol": 1e-5, "rtol": 1e-4} if dtype == torch.float32 else {"atol": 1e-9, "rtol": 1e-8}


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_round_trip(case, dtype):
    t, _, x = _build(case, dtype)
    y = t(x)
    if t.bijective:
        torch.testing.assert_close(t.inv(y), x, **_tol(dtype, case))
    else:
        torch.testing.assert_close(t(t.inv(y)), y, **_tol(dtype, case))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_matches_torch(case, dtype):
    ours, theirs, x = _build(case, dtype)
    y = ours(x)
    torch.testing.assert_close(y, theirs(x), **_tol(dtype, case))
    torch.testing.assert_close(ours.inv(y), theirs.inv(y), **_tol(dtype, case))
    assert ours.bijective == theirs.bijective
    assert ours.domain.event_dim == theirs.domain.event_dim
    assert ours.codomain.event_dim == theirs.codomain.event_dim
    assert ours.forward_shape(x.shape) == theirs.forward_shape(x.shape)
    assert ours.inverse_shape(y.shape) == theirs.inverse_shape(y.shape)
    if case.torch_ladj:
        expected = theirs.log_abs_det_jacobian(x, y)
        if "torch_ladj_sum" in case.extra:
            expected = expected.sum(-1)
        torch.testing.assert_close(ours.log_abs_det_jacobian(x, y), expected, **_tol(dtype, case))


JACOBIAN_CASES = [c for c in CASES if c.name != "softmax"]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", JACOBIAN_CASES, ids=lambda c: c.name)
def test_log_abs_det_jacobian_matches_autograd(case, dtype):
    t, _, x = _build(case, dtype, batch=())
    from_coords = case.from_coords or (lambda v: v.reshape(case.event_shape))
    v = case.coords_in(x).detach()
    x = from_coords(v)

    def f(v):
        return case.coords_out(t(from_coords(v)))

    jac = torch.autograd.functional.jacobian(f, v)
    expected = torch.linalg.slogdet(jac).logabsdet
    actual = t.log_abs_det_jacobian(x, t(x)).sum()
    tol = {"atol": 1e-3, "rtol": 1e-3} if dtype == torch.float32 else _tol(dtype)
    torch.testing.assert_close(actual, expected, **tol)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_shapes_and_constraints_on_random_inputs(case):
    t, _, x = _build(case, torch.float64, batch=(5, 2))
    y = t(x)
    assert t.forward_shape(x.shape) == y.shape
    assert t.inverse_shape(y.shape) == x.shape
    assert t.domain.check(x).all() and t.codomain.check(y).all()
    batch = y.shape[: y.dim() - t.codomain.event_dim]
    assert t.codomain.check(y).shape == batch
    assert t.domain.check(t.inv(y)).all()
    if case.name != "softmax":
        assert t.log_abs_det_jacobian(x, y).shape == x.shape[: x.dim() - t.domain.event_dim]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_caching(case):
    t, _, x = _build(case, torch.float64)
    cached = t.with_cache(1)
    assert cached._cache_size == 1 and cached.with_cache(1) is cached
    y = cached(x)
    assert cached(x) is y and cached.inv(y) is x
    assert cached.with_cache(0)._cache_size == 0
    if case.name != "identity":
        assert t.inv(t(x)) is not x


def test_cache_size_is_validated():
    with pytest.raises(ValueError, match="ExpTransform: cache_size must be 0 or 1, got 2"):
        T.ExpTransform(cache_size=2)


def test_inverse_is_shared_and_involutive():
    t = T.ExpTransform()
    assert t.inv is t.inv and t.inv.inv is t
    assert t.inv.domain is constraints.positive and t.inv.codomain is constraints.real
    chain = T.ComposeTransform([T.ExpTransform(), T.AffineTransform(1.0, 2.0)])
    assert chain.inv.inv is chain
    assert chain.inv.parts[0] == T.AffineTransform(1.0, 2.0).inv
    assert T.ExpTransform() == T.ExpTransform() and T.ExpTransform() != T.SigmoidTransform()
    assert T.AffineTransform(torch.tensor(1.0), 2.0) == T.AffineTransform(1.0, 2.0)
    assert T.PowerTransform(2.0) != T.PowerTransform(3.0)


def test_sign():
    assert T.ExpTransform().sign == 1 and T.ExpTransform().inv.sign == 1
    assert T.AffineTransform(0.0, -3.0).sign == -1
    assert T.AffineTransform(0.0, torch.tensor([2.0, -1.0])).sign.tolist() == [1.0, -1.0]
    chain = T.ComposeTransform([T.AffineTransform(0.0, -1.0), T.TanhTransform()])
    assert chain.sign == -1
    with pytest.raises(NotImplementedError, match="AbsTransform is not a monotone"):
        T.AbsTransform().sign


def test_edges_stay_finite():
    for dtype in DTYPES:
        ends = torch.tensor([0.0, 1.0], dtype=dtype)
        assert T.SigmoidTransform().inv(ends).isfinite().all()
        assert T.TanhTransform().inv(2 * ends - 1).isfinite().all()
        big = torch.tensor([-200.0, 200.0], dtype=dtype)
        for t in (T.SigmoidTransform(), T.TanhTransform(), T.SoftplusTransform()):
            assert t.log_abs_det_jacobian(big, t(big)).isfinite().all(), t
        assert T.SoftplusTransform().inv(torch.tensor([100.0], dtype=dtype)).item() == 100.0
        sigmoid = T.SigmoidTransform()(big)
        assert (sigmoid > 0).all() and (sigmoid < 1).all()
        corner = torch.tensor([1.0 - 1e-6, 1e-6 - 1e-12, 1e-12], dtype=dtype)
        assert T.StickBreakingTransform().inv(corner).isfinite().all()
    tanh = T.TanhTransform()
    x = torch.linspace(-5, 5, 11, dtype=torch.float64)
    expected = (1 - x.tanh() ** 2).log()
    torch.testing.assert_close(tanh.log_abs_det_jacobian(x, tanh(x)), expected)


def test_compose_event_dims():
    t = T.ComposeTransform([T.ExpTransform(), T.StickBreakingTransform()])
    assert t.domain.event_dim == 1 and t.codomain.event_dim == 1
    x = torch.randn(2, 3, dtype=torch.float64)
    theirs = tt.ComposeTransform([tt.ExpTransform(), tt.StickBreakingTransform()])
    torch.testing.assert_close(
        t.log_abs_det_jacobian(x, t(x)), theirs.log_abs_det_jacobian(x, t(x))
    )
    assert T.identity_transform(x) is x
    assert T.identity_transform.log_abs_det_jacobian(x, x).eq(0).all()


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"in_shape \(2, 3\) has 6 elements but out_shape"):
        T.ReshapeTransform((2, 3), (5,))
    with pytest.raises(ValueError, match=r"input shape \(4,\) does not end in the event shape"):
        T.ReshapeTransform((2, 3), (6,)).forward_shape((4,))
    with pytest.raises(ValueError, match="length 4 is not D\\*\\(D-1\\)/2"):
        T.CorrCholeskyTransform().forward_shape((4,))
    with pytest.raises(ValueError, match="got 2 transforms but 1 lengths"):
        T.CatTransform([T.ExpTransform(), T.ExpTransform()], lengths=[1])
    with pytest.raises(ValueError, match="size 3 along dim 0 but the block lengths"):
        T.CatTransform([T.ExpTransform()], dim=0, lengths=[2])(torch.zeros(3))
    with pytest.raises(ValueError, match="size 3 along dim 0 but 2 transforms are stacked"):
        T.StackTransform([T.ExpTransform(), T.ExpTransform()])(torch.zeros(3))
    with pytest.raises(ValueError, match=r"expected at least 2 \(the event dims\)"):
        T.IndependentTransform(T.ExpTransform(), 2)(torch.zeros(3))
    with pytest.raises(ValueError, match="different event dims"):
        T.CorrCholeskyTransform().event_dim
    with pytest.raises(ValueError, match="expected square matrices"):
        T.LowerCholeskyTransform().forward_shape((2, 3))
    with pytest.raises(NotImplementedError, match="Jacobian is singular; use StickBreaking"):
        T.SoftmaxTransform().log_abs_det_jacobian(torch.zeros(3), torch.zeros(3))
    with pytest.raises(TypeError, match="every entry of tseq must be a Transform"):
        T.StackTransform([T.ExpTransform(), math.exp])

    class Scaled(T.Transform):
        def __init__(self, factor, cache_size=0):
            super().__init__(cache_size=cache_size)
            self.factor = factor

    with pytest.raises(NotImplementedError, match="Scaled takes constructor arguments"):
        Scaled(2.0).with_cache(1)


def test_pickle_drops_the_weak_inverse():
    import pickle

    t = T.ComposeTransform([T.ExpTransform(), T.AffineTransform(1.0, 2.0)])
    t.inv  # noqa: B018 - builds the weak reference that must not be pickled
    clone = pickle.loads(pickle.dumps(t))
    x = torch.randn(3)
    torch.testing.assert_close(clone.inv(clone(x)), x)


def test_public_names_match_torch():
    assert sorted(T.__all__) == sorted(tt.__all__)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_power_jacobian_is_finite_where_the_power_overflows(dtype):
    # p y / x is inf (y = inf) or 0 (y = 0) at extreme x; log p + (p - 1) log x is not.
    t = T.PowerTransform(torch.tensor(2.5, dtype=dtype))
    x = torch.tensor([1e-30, 0.3, 7.0, 1e30], dtype=dtype)
    want = math.log(2.5) + 1.5 * torch.log(x.double())
    torch.testing.assert_close(t.log_abs_det_jacobian(x, t(x)).double(), want, **_tol(dtype))
    # Against autograd where nothing overflows.
    moderate = torch.tensor([0.3, 7.0], dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: v.pow(2.5), moderate).diagonal()
    t64 = T.PowerTransform(torch.tensor(2.5, dtype=torch.float64))
    torch.testing.assert_close(t64.log_abs_det_jacobian(moderate, t64(moderate)), jac.log())
    torch.testing.assert_close(t.inv(t(x[1:3])), x[1:3], **_tol(dtype))


def test_positive_definite_round_trip_on_ill_conditioned_factors():
    # Rows of the factor differ in scale by up to 1e6 (condition ~1e12). The round
    # trip reproduces y within Cholesky's backward error, |dy_ij| <= c n eps
    # sqrt(y_ii y_jj) (Higham 2002, "Accuracy and Stability of Numerical
    # Algorithms", Thm 10.3), with c = 10 (an entrywise relative test is
    # impossible where y_ij cancels).
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 3, 3, dtype=torch.float64, generator=g).tril()
    x.diagonal(dim1=-2, dim2=-1).copy_(
        torch.empty(50, 3, dtype=torch.float64).uniform_(-7, 7, generator=g)
    )
    t = T.PositiveDefiniteTransform()
    y = t(x)
    back = t(t.inv(y))
    d = y.diagonal(dim1=-2, dim2=-1).sqrt()
    bound = 10 * 3 * torch.finfo(torch.float64).eps * d.unsqueeze(-1) * d.unsqueeze(-2)
    assert bool(((back - y).abs() <= bound).all())


def test_positive_definite_inverse_names_a_matrix_that_rounds_to_singular():
    # L L^T of a factor whose rows differ in scale by 5e8 loses the 1 of
    # 2.5e17 + 1 in float32: not positive definite as stored.
    y = T.PositiveDefiniteTransform()(torch.tensor([[0.0, 0, 0], [5e8, 0, 0], [1, 2, 0]]))
    with pytest.raises(
        ValueError,
        match=r"PositiveDefiniteTransform.inv: the input of shape \(3, 3\) is not positive def",
    ):
        T.PositiveDefiniteTransform().inv(y)
