"""Constraints: hand-picked points inside and outside, and torch.distributions as the oracle."""

import pytest
import torch
import torch.distributions.constraints as tc

from distributions import constraints as c

NAN, INF = float("nan"), float("inf")
DTYPES = [torch.float32, torch.float64]

# (id, our constraint, value, expected check result)
HAND_PICKED = [
    ("real", c.real, [0.0, -1e30, INF, NAN], [True, True, True, False]),
    ("positive", c.positive, [1e-30, 0.0, -1.0, INF], [True, False, False, True]),
    ("nonnegative", c.nonnegative, [0.0, -1e-30, 2.0], [True, False, True]),
    ("greater_than", c.greater_than(1.5), [1.5, 1.6, NAN], [False, True, False]),
    ("greater_than_eq", c.greater_than_eq(1.5), [1.5, 1.4], [True, False]),
    ("less_than", c.less_than(-1.0), [-1.0, -1.5, 0.0], [False, True, False]),
    ("interval", c.interval(-1.0, 2.0), [-1.0, 2.0, 2.1, -1.1], [True, True, False, False]),
    ("half_open", c.half_open_interval(0.0, 1.0), [0.0, 1.0, 0.5], [True, False, True]),
    ("unit_interval", c.unit_interval, [0.0, 1.0, 1.0001, NAN], [True, True, False, False]),
    ("boolean", c.boolean, [0.0, 1.0, 0.5, 2.0], [True, True, False, False]),
    ("nonneg_int", c.nonnegative_integer, [0.0, 3.0, -1.0, 2.5, INF], [1, 1, 0, 0, 0]),
    ("positive_int", c.positive_integer, [0.0, 1.0, 7.0, 1.5], [False, True, True, False]),
    ("integer_interval", c.integer_interval(0, 3), [0.0, 3.0, 4.0, 1.5, -1.0], [1, 1, 0, 0, 0]),
    ("simplex", c.simplex, [[0.2, 0.8], [0.5, 0.6], [-0.1, 1.1], [1.0, 0.0]], [1, 0, 0, 1]),
    ("one_hot", c.one_hot, [[0.0, 1.0], [1.0, 1.0], [0.5, 0.5], [1.0, 0.0]], [1, 0, 0, 1]),
    ("multinomial", c.multinomial(3), [[1.0, 2.0], [2.0, 2.0], [-1.0, 1.0]], [1, 0, 0]),
    ("real_vector", c.real_vector, [[0.0, 1.0], [NAN, 0.0]], [True, False]),
    ("lower_triangular", c.lower_triangular, [[[1.0, 0.0], [2.0, -1.0]]], [True]),
    ("not_lower_triangular", c.lower_triangular, [[[1.0, 0.1], [2.0, 1.0]]], [False]),
    (
        "lower_cholesky",
        c.lower_cholesky,
        [[[1.0, 0.0], [2.0, 1.0]], [[1.0, 0.0], [2.0, 0.0]]],
        [1, 0],
    ),
    (
        "corr_cholesky",
        c.corr_cholesky,
        [[[1.0, 0.0], [0.6, 0.8]], [[1.0, 0.0], [0.6, 0.7]]],
        [1, 0],
    ),
    ("square", c.square, [[[1.0, 2.0], [3.0, 4.0]]], [True]),
    ("symmetric", c.symmetric, [[[1.0, 2.0], [2.0, 4.0]], [[1.0, 2.0], [3.0, 4.0]]], [1, 0]),
    ("pos_def", c.positive_definite, [[[2.0, 1.0], [1.0, 2.0]], [[1.0, 2.0], [2.0, 1.0]]], [1, 0]),
    ("psd", c.positive_semidefinite, [[[1.0, 1.0], [1.0, 1.0]], [[1.0, 2.0], [2.0, 1.0]]], [1, 0]),
    ("cat", c.cat([c.positive, c.real], dim=0, lengths=[2, 1]), [1.0, -1.0, -5.0], [1, 0, 1]),
    ("stack", c.stack([c.positive, c.unit_interval], dim=0), [2.0, 2.0], [True, False]),
    ("mixture", c.MixtureSameFamilyConstraint(c.positive), [1.0, -1.0], [True, False]),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name,constraint,value,expected", HAND_PICKED, ids=lambda p: "")
def test_hand_picked_points(name, constraint, value, expected, dtype):
    result = constraint.check(torch.tensor(value, dtype=dtype))
    assert result.dtype == torch.bool
    assert result.tolist() == [bool(e) for e in expected], name


def _torch_twin(ours):
    """Builds the torch constraint with the same class name and attributes."""
    name = type(ours).__name__
    if isinstance(ours, c._IndependentConstraint):
        return tc.independent(_torch_twin(ours.base_constraint), ours.reinterpreted_batch_ndims)
    if isinstance(ours, (c._Cat, c._Stack)):
        parts = [_torch_twin(p) for p in ours.cseq]
        if isinstance(ours, c._Cat):
            return tc.cat(parts, ours.dim, ours.lengths)
        return tc.stack(parts, ours.dim)
    if isinstance(ours, c.MixtureSameFamilyConstraint):
        return tc.MixtureSameFamilyConstraint(_torch_twin(ours.base_constraint))
    cls = getattr(tc, name)
    args = [getattr(ours, a) for a in ("lower_bound", "upper_bound") if hasattr(ours, a)]
    return cls(*args) if args else cls()


ORACLE_CONSTRAINTS = [p[1] for p in HAND_PICKED] + [
    c.independent(c.interval(0.0, 1.0), 2),
    c.cat([c.positive, c.real, c.unit_interval], dim=-1, lengths=[1, 2, 1]),
    c.stack([c.nonnegative, c.real], dim=1),
]


def _random_values(constraint, dtype):
    """Values near the constraint's boundaries, with enough dims for its event."""
    g = torch.Generator().manual_seed(1)
    base = torch.randint(-2, 4, (3, 2, 4, 4), generator=g).to(dtype) / 2
    out = [base, base.abs(), base.softmax(-1), torch.eye(4, dtype=dtype).expand(3, 2, 4, 4)]
    if constraint.event_dim <= 1:
        out.append(torch.tensor([[NAN, INF, -INF, 0.0]], dtype=dtype).expand(2, 4))
    if isinstance(constraint, (c._Cat, c._Stack)):
        size = sum(constraint.lengths) if isinstance(constraint, c._Cat) else len(constraint.cseq)
        dim = constraint.dim
        out = [v.narrow(dim, 0, size) for v in out if v.size(dim) >= size]
    return out


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("constraint", ORACLE_CONSTRAINTS, ids=repr)
def test_matches_torch(constraint, dtype):
    theirs = _torch_twin(constraint)
    assert constraint.event_dim == theirs.event_dim
    assert constraint.is_discrete == theirs.is_discrete
    for value in _random_values(constraint, dtype):
        expected = theirs.check(value)
        # torch leaves a stacked event dim unreduced; we reduce every event dim.
        if isinstance(constraint, c._Stack) and expected.dim() > value.dim() - theirs.event_dim:
            expected = expected.all(-1)
        assert torch.equal(constraint.check(value), expected), value


def test_public_names_match_torch():
    assert sorted(c.__all__) == sorted(tc.__all__)
    for name in tc.__all__:
        assert hasattr(c, name), name


@pytest.mark.parametrize("constraint", ORACLE_CONSTRAINTS, ids=repr)
def test_description_and_repr(constraint):
    assert isinstance(constraint.description, str) and constraint.description
    theirs = repr(_torch_twin(constraint))
    if theirs.endswith("()") and theirs != repr(constraint):
        # torch omits the parameters of these; ours spells them out.
        assert repr(constraint).startswith(theirs[:-1]) and len(repr(constraint)) > len(theirs)
    else:
        assert repr(constraint) == theirs


def test_descriptions_name_bounds():
    assert c.positive.description == "x > 0.0"
    assert c.interval(-1.0, 2.0).description == "-1.0 <= x <= 2.0"
    assert c.half_open_interval(0, 1).description == "0 <= x < 1"
    assert c.greater_than(torch.tensor(2.5)).description == "x > 2.5"
    assert "shape (3,)" in c.less_than(torch.zeros(3)).description
    assert repr(c.positive) == "GreaterThan(lower_bound=0.0)"
    assert c.interval(0.0, 1.0).lower_bound == 0.0 and c.interval(0.0, 1.0).upper_bound == 1.0


def test_tensor_bounds_broadcast():
    lower, upper = torch.tensor([0.0, 1.0]), torch.tensor([1.0, 3.0])
    value = torch.tensor([[0.5, 0.5], [1.0, 2.0]])
    expected = [[True, False], [True, True]]
    assert c.interval(lower, upper).check(value).tolist() == expected


def test_event_dims_are_reduced():
    assert c.simplex.check(torch.full((5, 3, 4), 0.25)).shape == (5, 3)
    assert c.independent(c.positive, 2).check(torch.ones(5, 3, 4)).shape == (5,)
    assert c.positive_definite.check(torch.eye(3).expand(2, 3, 3)).shape == (2,)
    assert c.square.check(torch.ones(2, 3, 4)).tolist() == [False, False]
    value = torch.tensor([[0.3, 0.7, 1.0], [0.3, 0.7, -1.0]])
    cat_in_event = c.cat([c.simplex, c.positive_integer], dim=-1, lengths=[2, 1])
    assert cat_in_event.event_dim == 1
    assert cat_in_event.check(value).tolist() == [True, False]


def test_dependent():
    assert c.is_dependent(c.dependent) and not c.is_dependent(c.real)
    with pytest.raises(ValueError, match="Cannot check a dependent constraint"):
        c.dependent.check(torch.zeros(1))
    with pytest.raises(NotImplementedError, match=r"\.event_dim is not known statically"):
        c.dependent.event_dim
    with pytest.raises(NotImplementedError, match=r"\.is_discrete is not known statically"):
        c.dependent.is_discrete
    custom = c.dependent(is_discrete=True, event_dim=1)
    assert custom.is_discrete and custom.event_dim == 1


def test_dependent_property():
    class Box:
        def __init__(self, high):
            self.high = high

        @c.dependent_property(is_discrete=False, event_dim=0)
        def support(self):
            return c.interval(0.0, self.high)

        @c.dependent_property
        def plain(self):
            return c.real

    assert c.is_dependent(Box.support) and Box.support.event_dim == 0
    assert Box(2.0).support.upper_bound == 2.0
    assert c.is_dependent(Box.plain) and Box(1.0).plain is c.real


def test_argument_errors():
    with pytest.raises(ValueError, match=r"expected at least 2 \(the constraint's event_dim\)"):
        c.independent(c.real, 2).check(torch.zeros(3))
    with pytest.raises(ValueError, match="reinterpreted_batch_ndims must be an int >= 0"):
        c.independent(c.real, -1)
    with pytest.raises(TypeError, match="base_constraint must be a Constraint, got float"):
        c.independent(1.0, 1)
    with pytest.raises(ValueError, match="got 2 constraints but 1 lengths"):
        c.cat([c.real, c.real], lengths=[2])
    with pytest.raises(ValueError, match="dim 2 is out of range for a 1-dim value"):
        c.cat([c.real], dim=2).check(torch.zeros(1))
    with pytest.raises(ValueError, match="has size 3 along dim 0 but 2 constraints are stacked"):
        c.stack([c.real, c.real]).check(torch.zeros(3))
    with pytest.raises(TypeError, match="every entry of cseq must be a Constraint"):
        c.stack([c.real, 1.0])


def test_check_costs_one_op_for_simple_bounds():
    # The hot path of validation: a single comparison kernel, no reductions.
    value = torch.rand(3) + 0.1
    with torch.autograd.profiler.profile() as prof:
        c.positive.check(value)
    names = [e.name for e in prof.function_events if e.cpu_parent is None]
    assert names == ["aten::gt"], names


def test_reprs_do_not_print_whole_tensor_bounds():
    # Support reprs appear in obs and param messages: a 784-pixel bound stays one token.
    wide = c.interval(torch.zeros(784), 1.0)
    assert repr(wide) == "Interval(lower_bound=<tensor of shape (784,)>, upper_bound=1.0)"
    assert repr(c.greater_than(torch.tensor(2.0))) == "GreaterThan(lower_bound=2.0)"
    assert repr(c.integer_interval(0, 3)) == "IntegerInterval(lower_bound=0, upper_bound=3)"
