"""torch.distributions' constraint objects are accepted: mapped to ours, checked alike.

The walk over ``torch.distributions.constraints.__all__`` fails when torch adds
a public name this table does not cover, so a new torch constraint is caught
here rather than by a user.
"""

import pytest
import torch
import torch.distributions as td
import torch.distributions.constraints as tc

from distributions import Distribution, biject_to, constraints, transform_to
from distributions.torch_constraints import (
    TorchConstraint,
    as_constraint,
    is_torch_constraint,
    register_torch_constraint,
)

LOWER, UPPER = torch.tensor([-1.0, 0.5, 2.0]), torch.tensor([0.0, 3.0, 2.5])

# Representative arguments for each parameterized class of torch's module.
CLASS_CASES = {
    "greater_than": [tc.greater_than(1.5), tc.greater_than(LOWER)],
    "greater_than_eq": [tc.greater_than_eq(-2.0)],
    "less_than": [tc.less_than(3.0), tc.less_than(UPPER)],
    "interval": [tc.interval(-1.0, 4.0), tc.interval(LOWER, UPPER)],
    "half_open_interval": [tc.half_open_interval(0.0, 2.0)],
    "integer_interval": [tc.integer_interval(0, 3)],
    "multinomial": [tc.multinomial(5)],
    "independent": [tc.independent(tc.positive, 1), tc.independent(tc.interval(0.0, 2.0), 2)],
    "cat": [tc.cat([tc.positive, tc.real], dim=-1, lengths=[2, 1])],
    "stack": [tc.stack([tc.positive, tc.unit_interval], dim=-1)],
    "MixtureSameFamilyConstraint": [tc.MixtureSameFamilyConstraint(tc.positive)],
    "dependent_property": [tc.dependent_property(lambda self: None, event_dim=1)],
}
# Public names that are not constraints to map.
NOT_CONSTRAINTS = {"Constraint", "is_dependent"}


def _all_torch_constraints():
    for name in tc.__all__:
        obj = getattr(tc, name)
        if name in NOT_CONSTRAINTS:
            continue
        if isinstance(obj, tc.Constraint):
            yield pytest.param(obj, id=name)
        else:
            # A class or factory of torch's module missing from CLASS_CASES fails here.
            assert name in CLASS_CASES, f"add representative arguments for tc.{name}"
            for i, instance in enumerate(CLASS_CASES[name]):
                yield pytest.param(instance, id=f"{name}-{i}")


CONSTRAINTS = list(_all_torch_constraints())


def _points(event_dim, n=6):
    """Points around and inside many sets: reals, integers, vectors, matrices."""
    shape = (n, 3) + (3,) * event_dim
    base = torch.randn(shape, dtype=torch.float64)
    points = [base * 3, (base * 3).round(), (base * 3).round().abs(), base.abs(), base.sigmoid()]
    special = torch.tensor([float("nan"), float("inf"), 0.0, 1.0, -0.5, 2.5], dtype=base.dtype)
    points.append(special.reshape((n,) + (1,) * (len(shape) - 1)).expand(shape))
    if event_dim == 1:
        points += [base.softmax(-1), torch.eye(3, dtype=base.dtype).expand(shape)]
    if event_dim == 2:
        lower = base.tril()
        points += [lower, base + base.mT, base @ base.mT + torch.eye(3), lower.abs() + torch.eye(3)]
        points.append(td.transform_to(tc.corr_cholesky)(torch.randn(n, 3, 3, dtype=base.dtype)))
    return points


def _torch_event_dim(c):
    if isinstance(c, tc.MixtureSameFamilyConstraint):
        return c.base_constraint.event_dim
    return c.event_dim


@pytest.mark.parametrize("theirs", CONSTRAINTS)
def test_mapped_constraint_agrees_with_torch_check(theirs):
    ours = as_constraint(theirs)
    assert isinstance(ours, constraints.Constraint) and not is_torch_constraint(ours)
    if tc.is_dependent(theirs):
        assert constraints.is_dependent(ours)
        assert ours._event_dim == theirs._event_dim and ours._is_discrete == theirs._is_discrete
        with pytest.raises(ValueError, match="Cannot check a dependent constraint"):
            ours.check(torch.zeros(3))
        return
    assert ours.is_discrete == theirs.is_discrete
    assert ours.event_dim == _torch_event_dim(theirs)
    for x in _points(ours.event_dim):
        if isinstance(theirs, tc._Stack):
            x = x[..., :2]
        result = ours.check(x)
        assert torch.equal(result, _torch_check(theirs, x, result.dim())), x


def _torch_transform(registry, theirs):
    target = theirs
    if isinstance(theirs, tc.MixtureSameFamilyConstraint):
        target = theirs.base_constraint
    try:
        return getattr(td, registry)(target)
    except NotImplementedError:
        return None


@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
@pytest.mark.parametrize("theirs", CONSTRAINTS)
def test_transforms_of_torch_constraints_land_in_the_support(registry, theirs):
    ours_registry = biject_to if registry == "biject_to" else transform_to
    torch_t = _torch_transform(registry, theirs)
    if torch_t is None:
        # Where torch has no transform we have none either, and say so clearly.
        with pytest.raises(NotImplementedError, match=f"{registry}: no transform is registered"):
            ours_registry(theirs)
        return
    t = ours_registry(theirs)
    ours = as_constraint(theirs)
    event = (2,) if isinstance(theirs, tc._Stack) else (3,) * ours.event_dim
    y = t(torch.randn(t.inverse_shape(torch.Size((4, 3) + event)), dtype=torch.float64))
    assert ours.check(y).all() and _torch_check(theirs, y, 0).all()


def _torch_check(theirs, x, ndim):
    """torch's verdict, reduced to ``ndim`` dims (torch's stack leaves its event dim)."""
    if isinstance(theirs, tc.MixtureSameFamilyConstraint):
        theirs = theirs.base_constraint  # torch checks the value against one component
    result = theirs.check(x)
    return result.flatten(ndim).all(-1) if result.dim() > ndim else result


def test_singletons_map_to_our_singletons_and_are_cached():
    assert as_constraint(tc.simplex) is constraints.simplex
    assert as_constraint(tc.real) is constraints.real
    c = tc.interval(0.0, 1.0)
    assert as_constraint(c) is as_constraint(c)


def test_a_users_torch_constraint_keeps_its_check_and_can_get_a_transform():
    class Even(tc.Constraint):
        is_discrete = True

        def check(self, value):
            return value % 2 == 0

    ours = as_constraint(Even())
    assert isinstance(ours, TorchConstraint) and ours.is_discrete
    assert ours.check(torch.tensor([2, 3])).tolist() == [True, False]

    class Above(tc.Constraint):
        def check(self, value):
            return value > 1.0

    with pytest.raises(NotImplementedError, match=r"constraint .* \(class Above\)"):
        transform_to(Above())
    registry = type(transform_to)("my_registry")
    exp = td.transforms.ExpTransform()
    registry.register(Above, lambda c: exp)
    assert registry(Above()) is exp  # the registered factory answered, nothing else


def test_registering_for_a_torch_constraint_as_pyro_code_does():
    # Pyro code registers transforms for torch's constraints, e.g. softplus for positive.
    registry = type(biject_to)("my_registry")
    softplus, sigmoid = td.transforms.SoftplusTransform(), td.transforms.SigmoidTransform()
    seen = []
    registry.register(tc.positive, lambda c: seen.append(c) or softplus)
    assert registry(tc.positive) is softplus
    # Our greater_than(2) reaches the factory registered for torch's class, with its bound.
    assert registry(constraints.greater_than(2.0)) is softplus
    assert float(seen[-1].lower_bound) == 2.0
    registry.register(tc._Interval, lambda c: sigmoid)
    assert registry(constraints.unit_interval) is sigmoid


def test_not_a_constraint_names_the_argument_and_the_fix():
    with pytest.raises(TypeError, match=r"transform_to: expected a constraint .* got float"):
        transform_to(1.0)
    with pytest.raises(TypeError, match=r"got the constraint class _Interval, not an instance"):
        as_constraint(constraints.interval)


def test_a_torch_class_without_a_converter_is_refused_with_the_fix(monkeypatch):
    from distributions import torch_constraints

    monkeypatch.delitem(torch_constraints._CONVERTERS, "_Simplex")
    monkeypatch.setattr(torch_constraints, "_CACHE", type(torch_constraints._CACHE)())
    with pytest.raises(TypeError, match=r"(?s)_Simplex has no equivalent here yet.*register_torch"):
        as_constraint(tc.simplex)
    register_torch_constraint("_Simplex", lambda c: constraints.simplex)
    assert as_constraint(tc.simplex) is constraints.simplex


class _UserRate(Distribution):
    """A user's distribution declaring torch's constraint objects."""

    support = tc.positive
    arg_constraints = {"rate": tc.positive}

    def __init__(self, rate, validate_args=None):
        self.rate = torch.as_tensor(rate)
        super().__init__(validate_args=validate_args)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -value


def test_a_distribution_declaring_torch_constraints_gets_our_messages():
    with pytest.raises(ValueError, match=r"argument 'rate' must satisfy the constraint x > 0\.0"):
        _UserRate(-1.0)
    with pytest.raises(ValueError, match=r"outside the support x > 0\.0: value -1\.0"):
        _UserRate(1.0).log_prob(torch.tensor(-1.0))
