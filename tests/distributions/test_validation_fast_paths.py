"""Argument validation's shortcuts pass what the full check passes and raise its errors.

The shortcuts (issue 14): a tensor made from a Python number off the CPU is
tested through the number, never read back; a leaf argument that passed is
remembered by identity and version counter; a CPU scalar is read once without
being remembered. Each is checked here against the full check's outcome and
message, and against the in-place changes that must make it check again.
"""

import math

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from distributions import Bernoulli, Distribution, Normal, constraints
from distributions.utils import _stored_number, broadcast_all, number_behind
from distributions.validation import (
    _SCALAR_TESTS,
    _cpu_scalar_ok,
    _fast_ok,
    check_sample_shape,
    is_known_valid,
    mark_valid,
)

EDGE_NUMBERS = [
    0.0,
    -0.0,
    0.1,
    1.0 / 3.0,
    1e-46,  # below float32's smallest subnormal: rounds to 0 there
    1e-40,  # a float32 subnormal
    1e-310,  # a float64 subnormal
    3.4028235e38,
    3.4028236e38,
    1e39,  # past float32's largest finite value
    float("inf"),
    float("-inf"),
    float("nan"),
    2**24 + 1,  # an int float32 cannot hold exactly
    -(2**53),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("number", EDGE_NUMBERS)
def test_stored_number_is_what_the_tensor_holds(number, dtype):
    stored = _stored_number(number, dtype)
    try:
        held = torch.scalar_tensor(number, dtype=dtype).item()
    except RuntimeError:  # torch refuses a finite number past the dtype's range: no tensor
        assert math.isfinite(number) and abs(number) > torch.finfo(dtype).max
        return
    if stored is None:
        # Only subnormals are left to the tensor check (a flush-to-zero mode may store 0).
        assert 0.0 < abs(held) < torch.finfo(dtype).tiny
    elif math.isnan(held):
        assert math.isnan(stored)
    else:
        assert stored == held and math.copysign(1.0, stored) == math.copysign(1.0, held)


def _meta_normal(scale, shape=(3,)):
    # A meta tensor cannot be read: construction passing with validation on
    # shows that the number was tested instead of the tensor.
    loc = torch.zeros(shape, device="meta")
    mark_valid(loc, constraints.real)
    return Normal(loc, scale)


def test_number_off_the_cpu_is_tested_without_a_read():
    assert _meta_normal(2.0).scale.shape == (3,)  # the expanded view is known too
    assert _meta_normal(2.0, shape=()).scale.device.type == "meta"


@pytest.mark.parametrize("scale", [-1.0, 0.0, float("nan"), 1e-46])
def test_number_outside_the_constraint_goes_to_the_full_check(scale):
    # On meta the full check cannot read the tensor: reaching it shows the
    # number did not pass (on the CPU the same numbers raise the usual error).
    with pytest.raises((RuntimeError, NotImplementedError)):
        _meta_normal(scale)


def test_in_place_change_forgets_the_number():
    _, scale = broadcast_all(torch.zeros(3, device="meta"), 1.0)
    assert number_behind(scale) == 1.0
    scale.fill_(-1.0)
    assert number_behind(scale) is None


def _message(make):
    with pytest.raises(ValueError) as info:
        make()
    return str(info.value)


@pytest.mark.parametrize(
    ("loc", "scale"), [(float("nan"), 1.0), (0.0, -1.0), (0.0, 0.0), (0.0, float("nan"))]
)
def test_numbers_raise_the_tensor_error(loc, scale):
    from_numbers = _message(lambda: Normal(loc, scale))
    from_tensors = _message(lambda: Normal(torch.tensor(loc), torch.tensor(scale)))
    assert from_numbers == from_tensors
    assert "Normal: argument" in from_numbers and "validate_args=False" in from_numbers


def test_bernoulli_number_outside_unit_interval_raises():
    message = _message(lambda: Bernoulli(1.5))
    assert message == _message(lambda: Bernoulli(torch.tensor(1.5)))
    assert "argument 'probs'" in message


def test_leaf_argument_is_remembered_until_changed_in_place():
    sigma = torch.tensor([1.0, 2.0, 3.0])
    Normal(0.0, sigma)
    assert is_known_valid(sigma, constraints.positive)
    sigma[1] = -2.0
    assert not is_known_valid(sigma, constraints.positive)
    message = _message(lambda: Normal(0.0, sigma))
    assert "value -2.0 at index (1,)" in message


def test_arithmetic_results_and_cpu_scalars_are_not_remembered():
    loc = torch.zeros(3, requires_grad=True)
    shifted = loc + 1
    scalar = torch.tensor(2.0)
    Normal(shifted, scalar)
    assert not is_known_valid(shifted, constraints.real)
    assert not is_known_valid(scalar, constraints.positive)


def test_nan_in_a_non_leaf_still_raises():
    loc = torch.tensor([0.0, float("nan")], requires_grad=True) * 1
    assert "value nan at index (1,)" in _message(lambda: Normal(loc, 1.0))


def test_broadcast_all_returns_equal_shaped_tensors_untouched():
    a, b = torch.zeros(2), torch.ones(2)
    out = broadcast_all(a, b)
    assert out[0] is a and out[1] is b
    x, y = broadcast_all(torch.zeros(2, 1), torch.ones(3))
    assert x.shape == y.shape == (2, 3)


def test_check_sample_shape_exact_shape_and_mismatch():
    d = Normal(torch.zeros(4, 3), 1.0).to_event(1)
    assert check_sample_shape(d, torch.zeros(4, 3), "Independent") == torch.Size([4])
    assert check_sample_shape(d, torch.zeros(2, 1, 3), "Independent") == torch.Size([2, 4])
    with pytest.raises(ValueError, match=r"does not end in the event shape \(3,\)"):
        check_sample_shape(d, torch.zeros(4, 2), "Independent")


class _Reductions(TorchDispatchMode):
    # Counts the reduction kernels run below it (validation runs under
    # DisableTorchFunction, which a dispatch mode still sees).
    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket in _REDUCTIONS:
            self.count += 1
        return func(*args, **(kwargs or {}))


_REDUCTIONS = {torch.ops.aten.amin, torch.ops.aten.amax, torch.ops.aten.aminmax}
_REDUCTIONS |= {torch.ops.aten.sum, torch.ops.aten.all, torch.ops.aten.any}


def test_expanded_number_is_checked_through_its_base():
    loc = torch.zeros(4)
    Normal(loc, 2.0)  # loc, a leaf that passed, is remembered from now on
    with _Reductions() as seen:
        d = Normal(loc, 2.0)
    # The scale is the number 2.0 expanded to (4,): one read of its base, no
    # reduction over the view (the full check reduces it to its extremes).
    assert d.scale.shape == (4,) and seen.count == 0
    wide = torch.zeros(64)
    Normal(wide, 2.0)
    with _Reductions() as seen:
        Normal(wide, torch.full((64,), 2.0))
    assert seen.count > 0  # the same values held densely are reduced (past _SMALL)
    with _Reductions() as seen:
        Normal(loc, torch.tensor([2.0, 2.0, 2.0, 2.0]))
    assert seen.count == 0  # a short vector is read as a list instead
    bad = torch.tensor(-1.0).expand(4)
    message = _message(lambda: Normal(loc, bad))
    assert "value -1.0 at index (0,)" in message
    # A stride-0 view at another offset of a one-element base's storage is not
    # taken for its base: the base holds 1.0, the view -1.0.
    storage = torch.tensor([1.0, -1.0]).untyped_storage()
    base = torch.empty(0).set_(storage, 0, (), ())
    view = base.as_strided((3,), (0,), 1)
    assert view._base is base and base.item() == 1.0
    assert "value -1.0 at index (0,)" in _message(lambda: Normal(torch.zeros(3), view))


@pytest.mark.slow
def test_number_records_stay_out_of_a_compiled_graph():
    # With validation off (as compiled SVI steps run), building from numbers
    # must trace as one graph: no record, weak reference or version read.
    def score(x, loc):
        near = Normal(loc, 1.0).log_prob(x).sum() + Normal(0.0, 2.0).log_prob(x).sum()
        return near + Bernoulli(logits=loc).log_prob((x > 0).to(x.dtype)).sum()

    x, loc = torch.randn(5), torch.randn(5)
    Distribution.set_default_validate_args(False)
    try:
        compiled = torch.compile(score, fullgraph=True, backend="eager")
        assert torch.equal(compiled(x, loc), score(x, loc))
    finally:
        Distribution.set_default_validate_args(True)


_SINGLETONS = {
    "real": constraints.real,
    "positive": constraints.positive,
    "nonnegative": constraints.nonnegative,
    "unit_interval": constraints.unit_interval,
}


@pytest.mark.parametrize("name", sorted(_SINGLETONS))
@pytest.mark.parametrize("number", [*EDGE_NUMBERS, 1.0, -1.0, 0.5, 1.5, -1e-300])
def test_scalar_tests_agree_with_the_constraint_check(name, number):
    # The one-call test a 0-dim CPU argument takes must pass exactly what
    # constraint.check passes, for every edge float (NaN, both zeros, infs),
    # and so must the argument check that uses it.
    constraint = _SINGLETONS[name]
    test, passing = _SCALAR_TESTS[id(constraint)]
    expected = bool(constraint.check(torch.tensor(number, dtype=torch.float64)))
    assert (test(float(number)) is passing) is expected
    argument = torch.tensor(float(number), dtype=torch.float64)
    assert _cpu_scalar_ok(constraint, argument) is expected


@pytest.mark.parametrize(
    "make",
    [
        lambda: Normal(torch.tensor(0.0), torch.tensor(-1.0)),
        lambda: Normal(torch.tensor(float("nan")), torch.tensor(1.0)),
        lambda: Bernoulli(torch.tensor(1.5)),
        lambda: Bernoulli(torch.tensor(-0.0) - 1e-9),
    ],
)
def test_a_failing_cpu_scalar_raises_the_full_message(make):
    message = _message(make)
    assert "argument" in message and "validate_args=False" in message


def test_a_scalar_parameter_changed_in_place_is_checked_again():
    # Scalar parameters are not recorded (they are read on each check): an
    # in-place change to an invalid value is caught at the next construction.
    scale = torch.tensor(2.0, requires_grad=True)
    Normal(0.0, scale)
    with torch.no_grad():
        scale.fill_(-3.0)
    assert "value -3.0" in _message(lambda: Normal(0.0, scale))


@pytest.mark.parametrize("dtype", [torch.bool, torch.int64])
def test_non_float_scalars_take_the_general_check(dtype):
    # A bool takes the full check, an int the one-call test: either way the
    # outcome is the constraint's (one passes positive, zero does not).
    Normal(torch.tensor(0.0), torch.ones((), dtype=dtype))
    assert "argument 'scale'" in _message(
        lambda: Normal(torch.tensor(0.0), torch.zeros((), dtype=dtype))
    )


SMALL_VECTORS = [
    [0.5, 1.0],
    [0.0, -0.0, 2.0],
    [float("nan"), 1.0],
    [1.0, float("nan")],
    [float("inf"), float("-inf")],  # no NaN: real passes, though a sum would be NaN
    [float("inf"), 1.0],
    [1e-46, 1.0],  # rounds to 0 in float32
    [-1e-30, 0.5],
    [1.0000001, 0.0],
    [1.0] * 31 + [float("nan")],  # 32 elements: still read as a list
    [1.0] * 32 + [float("nan")],  # 33: the reduction path
]
FAST_CONSTRAINTS = [
    constraints.real,
    constraints.positive,
    constraints.nonnegative,
    constraints.unit_interval,
    constraints.greater_than(-1.0),
    constraints.interval(0.0, 2.0),
    constraints.half_open_interval(0.0, 1.0),
    constraints.less_than(1.5),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("elements", SMALL_VECTORS, ids=str)
@pytest.mark.parametrize("constraint", FAST_CONSTRAINTS, ids=str)
def test_short_vectors_read_as_lists_pass_what_the_check_passes(constraint, elements, dtype):
    value = torch.tensor(elements, dtype=dtype)
    expected = bool(constraint.check(value).all())
    # A computed argument (autograd records nothing for the list read).
    computed = value.clone().requires_grad_() * 1.0
    assert bool(_fast_ok(constraint, computed)) == expected
    if not expected:
        with pytest.raises(ValueError, match="must satisfy the constraint"):
            Normal(computed, 1.0) if constraint is constraints.real else _raise_for(
                constraint, computed
            )


def _raise_for(constraint, value):
    class _Checked(Distribution):
        arg_constraints = {"x": constraint}
        support = constraints.real

        def __init__(self, x):
            self.x = x
            super().__init__(x.shape, validate_args=True)

    _Checked(value)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32])
def test_integer_vectors_read_as_lists(dtype):
    value = torch.tensor([0, 3, 7], dtype=dtype)
    assert _fast_ok(constraints.nonnegative, value) is True
    assert _fast_ok(constraints.positive, value) is None
    assert _fast_ok(constraints.interval(0, 7), value) is True


def test_a_matrix_and_a_complex_vector_take_the_reductions():
    matrix = torch.tensor([[1.0, float("nan")], [2.0, 3.0]])
    assert _fast_ok(constraints.real, matrix) is None
    assert _fast_ok(constraints.positive, matrix) is None
    assert _fast_ok(constraints.real, torch.tensor([1 + 1j, 2 - 1j])) is True
