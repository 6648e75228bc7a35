"""biject_to / transform_to: image inside the constraint, round trips, torch as the oracle."""

import math

import pytest
import torch
import torch.distributions as td
import torch.distributions.constraints as tc

from distributions import GeneralizedPareto, biject_to, constraints, transform_to
from distributions.constraint_registry import ConstraintRegistry
from distributions.transforms import ExpTransform, SigmoidTransform, Transform

DTYPES = [torch.float32, torch.float64]
LOWER, UPPER = torch.tensor([-1.0, 0.5, 2.0]), torch.tensor([0.0, 3.0, 2.5])

# (id, our constraint, torch constraint, event shape of a constrained value)
CASES = [
    ("real", constraints.real, tc.real, ()),
    ("real_vector", constraints.real_vector, tc.real_vector, (3,)),
    ("positive", constraints.positive, tc.positive, ()),
    ("nonnegative", constraints.nonnegative, tc.nonnegative, ()),
    ("greater_than", constraints.greater_than(1.5), tc.greater_than(1.5), ()),
    ("greater_than_eq", constraints.greater_than_eq(-2.0), tc.greater_than_eq(-2.0), ()),
    ("less_than", constraints.less_than(3.0), tc.less_than(3.0), ()),
    ("interval", constraints.interval(-1.0, 4.0), tc.interval(-1.0, 4.0), ()),
    ("interval_tensor", constraints.interval(LOWER, UPPER), tc.interval(LOWER, UPPER), (3,)),
    ("half_open", constraints.half_open_interval(0.0, 2.0), tc.half_open_interval(0.0, 2.0), ()),
    ("unit_interval", constraints.unit_interval, tc.unit_interval, ()),
    ("simplex", constraints.simplex, tc.simplex, (4,)),
    ("lower_cholesky", constraints.lower_cholesky, tc.lower_cholesky, (3, 3)),
    ("positive_definite", constraints.positive_definite, tc.positive_definite, (3, 3)),
    ("psd", constraints.positive_semidefinite, tc.positive_semidefinite, (3, 3)),
    ("corr_cholesky", constraints.corr_cholesky, tc.corr_cholesky, (3, 3)),
    (
        "independent",
        constraints.independent(constraints.interval(0.0, 2.0), 2),
        tc.independent(tc.interval(0.0, 2.0), 2),
        (2, 3),
    ),
    (
        "cat",
        constraints.cat([constraints.positive, constraints.real], dim=-1, lengths=[2, 1]),
        tc.cat([tc.positive, tc.real], dim=-1, lengths=[2, 1]),
        (3,),
    ),
    (
        "stack",
        constraints.stack([constraints.positive, constraints.unit_interval], dim=-1),
        tc.stack([tc.positive, tc.unit_interval], dim=-1),
        (3, 2),
    ),
    (
        "mixture",
        constraints.MixtureSameFamilyConstraint(constraints.positive),
        tc.MixtureSameFamilyConstraint(tc.positive),
        (),
    ),
]
# torch has no biject_to for these (the maps are not bijections from their domains).
TRANSFORM_TO_ONLY = {"lower_cholesky", "positive_definite", "psd"}


def _params():
    for name, ours, theirs, shape in CASES:
        for registry in ("biject_to", "transform_to"):
            if registry == "biject_to" and name in TRANSFORM_TO_ONLY:
                continue
            yield pytest.param(registry, ours, theirs, shape, id=f"{registry}-{name}")


PARAMS = list(_params())


def _setup(registry, constraint, event_shape, dtype, batch=(4,)):
    t = (biject_to if registry == "biject_to" else transform_to)(constraint)
    assert isinstance(t, Transform)
    shape = t.inverse_shape(torch.Size(batch + event_shape))
    x = torch.randn(shape, dtype=dtype)
    return t, x, t(x)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("registry,constraint,theirs,event_shape", PARAMS)
def test_image_inside_and_round_trip(registry, constraint, theirs, event_shape, dtype):
    t, x, y = _setup(registry, constraint, event_shape, dtype)
    assert y.dtype == dtype and y.shape == (4,) + event_shape
    valid = constraint.check(y)
    assert valid.shape == (4,) + event_shape[: len(event_shape) - constraint.event_dim]
    assert valid.all(), y
    assert t.codomain.event_dim == constraint.event_dim
    tol = {"atol": 1e-4, "rtol": 1e-4} if dtype == torch.float32 else {"atol": 1e-8, "rtol": 1e-8}
    if registry == "biject_to":
        assert t.bijective
        torch.testing.assert_close(t.inv(y), x, **tol)
    else:
        torch.testing.assert_close(t(t.inv(y)), y, **tol)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("registry,constraint,theirs,event_shape", PARAMS)
def test_matches_torch(registry, constraint, theirs, event_shape, dtype):
    t, x, y = _setup(registry, constraint, event_shape, dtype)
    if isinstance(theirs, tc.MixtureSameFamilyConstraint):
        theirs = theirs.base_constraint  # torch registers no map for it
    t_theirs = getattr(td, registry)(theirs)
    tol = {"atol": 1e-5, "rtol": 1e-5} if dtype == torch.float32 else {"atol": 1e-9, "rtol": 1e-9}
    torch.testing.assert_close(y, t_theirs(x), **tol)
    if t.bijective:
        expected = t_theirs.log_abs_det_jacobian(x, y)
        if isinstance(constraint, constraints._Stack):
            expected = expected.sum(-1)  # torch leaves the stacked event dim unreduced
        torch.testing.assert_close(t.log_abs_det_jacobian(x, y), expected, **tol)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_bounded_images_stay_inside_at_extremes(dtype):
    # The sigmoid is clipped inside (0, 1), so even the open end of a half-open
    # interval is never reached. (Unbounded images such as exp(x) + 1.5 round onto
    # their open bound for very negative x in any floating-point implementation.)
    x = torch.tensor([-1e4, -50.0, 0.0, 50.0, 1e4], dtype=dtype)
    for constraint in (
        constraints.unit_interval,
        constraints.interval(-1.0, 4.0),
        constraints.half_open_interval(0.0, 2.0),
    ):
        y = biject_to(constraint)(x)
        assert constraint.check(y).all(), (constraint, y)
        assert biject_to(constraint).inv(y).isfinite().all()


def test_common_cases_are_single_transforms():
    assert biject_to(constraints.positive) == ExpTransform()
    assert biject_to(constraints.unit_interval) == SigmoidTransform()
    assert transform_to(constraints.nonnegative) == ExpTransform()


def test_register_by_class_instance_and_decorator():
    registry = ConstraintRegistry("my_registry")

    class _Odd(constraints.Constraint):
        def check(self, value):
            return value % 2 == 1

    class _VeryOdd(_Odd):
        pass

    @registry.register(_Odd)
    def _(constraint):
        return ExpTransform()

    assert registry(_Odd()) == ExpTransform()
    assert registry(_VeryOdd()) == ExpTransform()  # nearest registered class in the MRO
    registry.register(constraints.positive, lambda c: SigmoidTransform())
    assert registry(constraints.greater_than(3.0)) == SigmoidTransform()


def test_errors_name_the_constraint_and_the_fix():
    with pytest.raises(NotImplementedError, match=r"biject_to: no transform is registered for "):
        biject_to(constraints.lower_cholesky)
    with pytest.raises(NotImplementedError, match=r"@transform_to\.register\(type\(constraint\)\)"):
        transform_to(constraints.boolean)
    with pytest.raises(NotImplementedError, match=r"constraint IntegerInterval\(lower_bound=0"):
        biject_to(constraints.integer_interval(0, 3))
    with pytest.raises(TypeError, match="my_registry.register: expected a Constraint subclass"):
        ConstraintRegistry("my_registry").register(int, lambda c: ExpTransform())


@pytest.mark.parametrize(
    "constraint, inside",
    [
        (constraints.interval(1.5, math.inf), lambda y: y > 1.5),
        (constraints.interval(torch.tensor([0.0, 2.0]), torch.full((2,), math.inf)), None),
        (constraints.half_open_interval(-math.inf, 3.0), lambda y: y < 3.0),
        (constraints.interval(-math.inf, math.inf), lambda y: y.isfinite()),
    ],
)
def test_intervals_with_infinite_ends_map_to_half_lines(constraint, inside):
    # GeneralizedPareto's support is interval(loc, inf) for concentration >= 0; a
    # sigmoid scaled by inf would send every finite point to inf or NaN.
    x = torch.tensor([-5.0, -1.0, 0.0, 2.0, 30.0]).unsqueeze(-1).expand(5, 2)
    for registry in (biject_to, transform_to):
        t = registry(constraint)
        y = t(x)
        assert y.isfinite().all() and constraint.check(y).all(), (constraint, y)
        torch.testing.assert_close(t.inv(y)[:-1], x[:-1])
        if inside is not None:
            assert inside(y).all()


def test_interval_infinite_for_some_elements_only_names_the_fix():
    mixed = constraints.interval(0.0, torch.tensor([1.0, math.inf]))
    with pytest.raises(ValueError, match=r"inf for some elements only.*split the batch"):
        biject_to(mixed)


def test_generalized_pareto_support_has_a_finite_bijection():
    for c in (0.3, -0.3):
        d = GeneralizedPareto(torch.tensor(1.0), torch.tensor(2.0), torch.tensor(c))
        y = biject_to(d.support)(torch.linspace(-4.0, 4.0, 9))
        assert d.log_prob(y).isfinite().all(), (c, y)
