"""Argument and sample validation with errors that say what to fix.

Validation runs on every construction while it is enabled, so the common case
(every check passes) costs one comparison and one boolean per argument; the
expensive part, locating an offending element, runs only when a check fails.
A value already shown to lie in a constraint (checked before, or drawn by a
distribution with that support: :func:`mark_valid`) is not checked again
while it is unchanged.

The sample checks are written once, for two callers: ``log_prob`` (the
subject is ``"Normal.log_prob: value"``) and the runtime's observed sites
(``"sample site 'y': obs"``, see ``ppl.validation``), which pass a
:class:`Subject` so the message names the site.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import torch

from distributions import constraints
from distributions.constraints import is_dependent
from distributions.tensor_records import TensorRecords
from distributions.torch_constraints import as_constraint
from distributions.utils import broadcast_shape, lazy_property, number_behind
from distributions.violations import abbreviate, describe_offenders

__all__ = [
    "Subject",
    "check_arguments",
    "check_sample",
    "check_sample_shape",
    "check_support",
    "not_a_tensor_error",
    "describe_violation",
    "is_known_valid",
    "mark_valid",
]


class Subject(NamedTuple):
    """Who a sample check is about, for its messages (a tuple: cheap to build per site).

    Attributes:
        prefix: what the message starts with, e.g. ``"Normal.log_prob: "``.
        noun: what the checked tensor is called, e.g. ``"value"`` or ``"obs"``.
        fix: the sentence suggesting the fix for a value outside the support.
        owner: follows the support's description, e.g. ``" of Normal"`` where
            the prefix does not name the distribution.
        list_offenders: describe a value outside the support by how many of
            its entries fail and the first few (data can be large), rather
            than by its first offending element.
    """

    prefix: str
    noun: str = "value"
    fix: str = "Score only values in the support (or pass validate_args=False)."
    owner: str = ""
    list_offenders: bool = False


def _log_prob_subject(dist: Any) -> Subject:
    return Subject(f"{type(dist).__name__}.log_prob: ")


# --------------------------------------------------------------- known values
# tensor -> the constraint it satisfies (compared by identity), while unchanged.
_KNOWN = TensorRecords(4096)


def mark_valid(
    value: torch.Tensor, constraint: constraints.Constraint, transient: bool = False
) -> None:
    """Records that every element of ``value`` satisfies ``constraint``.

    Later checks of the same tensor against the same constraint object pass
    without reading the tensor, until it is changed in place. Callers mark
    only what they know: a value that passed a check, a draw of a
    distribution whose support is ``constraint``, the image of a
    ``transform_to(constraint)``.

    Args:
        value: the tensor.
        constraint: the constraint it satisfies.
        transient: ``value`` was made during the current evaluation (a draw, a
            computed parameter value); see :class:`~distributions.tensor_records.held_records`.

    Example:
        >>> x = torch.tensor([1.0, 2.0])
        >>> mark_valid(x, constraints.positive)
        >>> is_known_valid(x, constraints.positive)
        True
        >>> _ = x.mul_(-1)  # an in-place change forgets it
        >>> is_known_valid(x, constraints.positive)
        False
    """
    _KNOWN.put(value, constraint, transient)


def is_known_valid(value: torch.Tensor, constraint: constraints.Constraint) -> bool:
    """Whether :func:`mark_valid` recorded ``value`` (unchanged since) for ``constraint``.

    Example:
        >>> is_known_valid(torch.zeros(2), constraints.real)
        False
    """
    return _KNOWN.get(value) is constraint


# ------------------------------------------------------------------- fast path
def _scalar(bound: Any) -> Any:
    if isinstance(bound, torch.Tensor):
        return bound.item() if bound.numel() == 1 else None
    return bound


# A predicate on (constraint, smallest element, largest element): True or False
# when the extremes decide, None when they cannot.
_Predicate = Callable[[Any, float, float], Any]


def _lower(check: Callable[[float, float], bool]) -> _Predicate:
    # A predicate on the smallest element against the constraint's lower bound;
    # None when the bound is a batched tensor (two extremes cannot decide it).
    def predicate(c: Any, lo: float, hi: float) -> Any:
        bound = _scalar(c.lower_bound)
        return None if bound is None else check(lo, bound)

    return predicate


def _upper(check: Callable[[float, float], bool]) -> _Predicate:
    def predicate(c: Any, lo: float, hi: float) -> Any:
        bound = _scalar(c.upper_bound)
        return None if bound is None else check(hi, bound)

    return predicate


def _both(upper_check: Callable[[float, float], bool]) -> _Predicate:
    def predicate(c: Any, lo: float, hi: float) -> Any:
        lower, upper = _scalar(c.lower_bound), _scalar(c.upper_bound)
        if lower is None or upper is None:
            return None
        return lower <= lo and upper_check(hi, upper)

    return predicate


# Predicates on the smallest and largest element: one reduction and a Python
# comparison instead of an elementwise check plus ``.all()``. NaN extremes fail
# every comparison, so a NaN anywhere is caught; a False or None only sends the
# caller to ``check()``, which locates the offending element.
_EXTREME_CHECKS = {
    type(constraints.real): lambda c, lo, hi: lo == lo and hi == hi,  # not NaN
    constraints.greater_than: _lower(lambda lo, bound: lo > bound),
    constraints.greater_than_eq: _lower(lambda lo, bound: lo >= bound),
    constraints.less_than: _upper(lambda hi, bound: hi < bound),
    constraints.interval: _both(lambda hi, bound: hi <= bound),
    constraints.half_open_interval: _both(lambda hi, bound: hi < bound),
}


_NOT_NAN = _EXTREME_CHECKS[type(constraints.real)]


# One-call tests of a Python float against the library's constraint singletons,
# the constraints of most arguments: a 0-dim CPU argument (a number broadcast_all
# turned into a tensor, a scalar parameter) is read once and tested here, with
# no record lookup and no predicate chain. A float passes when ``test(x) is
# expected``; the tests are C functions (no Python frame) deciding as the
# predicates above do on extremes lo = hi = x: NaN fails every constraint.
# Keyed by id: a user constraint need not be hashable, and the singletons live
# as long as the module, so their ids are never reused.
_SCALAR_TESTS: dict[int, tuple[Callable[[float], bool], bool]] = {
    id(constraints.real): (math.isnan, False),
    id(constraints.positive): ((0.0).__lt__, True),
    id(constraints.nonnegative): ((0.0).__le__, True),
    id(constraints.unit_interval): (lambda x: 0.0 <= x <= 1.0, True),
}


# A vector of at most this many elements is read as a list rather than reduced:
# tolist() costs ~4.7k instructions plus ~0.3k per element, a reduction and its
# read ~17k (more with autograd recording the reduction of a computed argument).
_SMALL = 32


def _small_elements(value: torch.Tensor) -> list[Any] | None:
    # The elements of a short real vector as numbers; None for anything else
    # (a reshape to flatten a matrix would cost more than the reduction).
    if value.dim() != 1 or value.numel() > _SMALL or value.is_complex():
        return None
    return value.tolist()


def _extremes(value: torch.Tensor) -> tuple[float, float]:
    if value.numel() == 1:
        x = value.item()
        return x, x
    elements = _small_elements(value)
    if elements is not None:
        return _list_extremes(elements)
    lo, hi = torch.aminmax(value)
    return lo.item(), hi.item()


def _list_extremes(elements: list[Any]) -> tuple[float, float]:
    if any(map(math.isnan, elements)):
        return math.nan, math.nan  # NaN fails every predicate, as a reduction's would
    return min(elements), max(elements)


def _simplex_ok(value: torch.Tensor) -> bool:
    # Nonnegative entries and every row sum within 1e-6 of 1, from three reductions.
    sums = value.sum(-1)
    low, high = _extremes(sums)
    return value.amin().item() >= 0 and 1 - 1e-6 < low and high < 1 + 1e-6


def _fast_ok(constraint: Any, value: torch.Tensor) -> bool | None:
    """True when every element of ``value`` satisfies ``constraint``; None if unsure.

    Covers the interval-type constraints with scalar bounds, the simplex, and
    ``independent`` wrappers of them (reinterpreting dims does not change
    whether every element passes).
    """
    predicate = _EXTREME_CHECKS.get(type(constraint))
    if predicate is None:
        return _fast_ok_wrapped(constraint, value)
    if value.dtype is torch.bool or value.numel() == 0:
        return None
    if predicate is _NOT_NAN and value.numel() > 1:
        # The sum is NaN when an element is, or when +inf meets -inf: of a
        # short vector's elements as numbers (then scanned for a NaN), else
        # of the tensor (check() then clears it).
        elements = _small_elements(value)
        if elements is not None:
            total = sum(elements)
            return True if total == total or not any(map(math.isnan, elements)) else None
        total = value.sum().tolist()  # a 0-dim sum: item() with less dispatch
        return True if total == total else None
    return True if predicate(constraint, *_extremes(value)) else None


def _fast_ok_wrapped(constraint: Any, value: torch.Tensor) -> bool | None:
    if value.dtype is torch.bool or value.numel() == 0:
        return None
    while isinstance(constraint, constraints.independent):
        if value.dim() < constraint.event_dim:
            return None  # check() raises the too-few-dims error
        constraint = constraint.base_constraint
    if constraint is constraints.simplex:
        return True if value.dim() >= 1 and _simplex_ok(value) else None
    predicate = _EXTREME_CHECKS.get(type(constraint))
    if predicate is None:
        return None
    return True if predicate(constraint, *_extremes(value)) else None


def _all_true(valid: Any) -> bool:
    if not isinstance(valid, torch.Tensor):
        return bool(valid)
    # bool() of a one-element tensor skips the reduction kernel of .all().
    return bool(valid) if valid.numel() == 1 else bool(valid.all())


def describe_violation(value: torch.Tensor, valid: torch.Tensor) -> str:
    """Describes the first element of ``value`` where ``valid`` is False.

    Args:
        value: the checked tensor.
        valid: the boolean result of ``constraint.check(value)`` (batch-shaped).

    Returns:
        A phrase such as ``"-1.0 at index (1,)"``.

    Example:
        >>> describe_violation(torch.tensor([1.0, -1.0]), torch.tensor([True, False]))
        'value -1.0 at index (1,)'
    """
    if valid.dim() == 0:
        return f"value {_show(value)}"
    index = tuple(int(i) for i in (~valid).nonzero()[0])
    element = value.expand(valid.shape + value.shape[valid.dim() :])[index]
    return f"value {_show(element)} at index {index}"


def _show(element: torch.Tensor) -> Any:
    if element.numel() == 1:
        return element.item()
    # A long event (a 1000-entry probability vector) is cut to its first entries.
    return element.tolist() if element.numel() <= 6 else abbreviate(element)


# ------------------------------------------------------------------ arguments
def check_arguments(dist: Any) -> None:
    """Checks each constrained parameter of ``dist`` against ``arg_constraints``.

    Parameters that are lazily derived and not yet computed (``probs`` of a
    distribution built from ``logits``), dependent constraints and tensors
    already known to satisfy their constraint (:func:`mark_valid`) are skipped.

    Raises:
        ValueError: naming the distribution, argument, shape, constraint and an
            offending element, and how to fix or silence it.
    """
    if torch._C._is_torch_function_mode_enabled():
        # The checks only decide whether to raise: they run below torch-function
        # modes, so a tracing mode neither pays for nor sees their reads. (Inside,
        # no mode is enabled: the call below runs the loop.)
        with torch._C.DisableTorchFunction():
            return check_arguments(dist)
    cls = type(dist)
    values = dist.__dict__
    for name, constraint in dist.arg_constraints.items():
        value = values.get(name)
        if value is None:
            if is_dependent(constraint) or isinstance(getattr(cls, name, None), lazy_property):
                continue  # not checked, or derived lazily and not computed yet
            value = getattr(dist, name)
        # A dependent constraint is never recorded and has no test on extremes,
        # so the two shortcuts cannot pass it.
        is_tensor = isinstance(value, torch.Tensor)
        if is_tensor:
            # A CPU scalar (numbers are such scalars) is read once: cheaper than
            # a record, so it is neither looked up nor recorded.
            if value.dim() == 0 and value.is_cpu:
                if _cpu_scalar_ok(constraint, value):
                    continue
            elif _KNOWN.get(value) is constraint:
                continue  # recorded (mark_valid) and unchanged since
            elif not value.is_cpu and _number_passes(value, constraint):
                continue
            else:
                scalar = _single_element(value)
                if scalar is not None and scalar.is_cpu and _cpu_scalar_ok(constraint, scalar):
                    continue
        if is_dependent(constraint):
            continue
        if not is_tensor:
            value = torch.as_tensor(value)
        if not _fast_ok(constraint, value):
            valid = constraint.check(value)
            if not _all_true(valid):
                raise _argument_error(cls, name, constraint, value, valid)
        if is_tensor and value.grad_fn is None:
            # A leaf (data, a parameter) is likely passed again: the next
            # construction with it unchanged skips the reduction (or the host
            # read). Arithmetic results are new each time: recording them
            # would only cost.
            mark_valid(value, constraint)


def _single_element(value: torch.Tensor) -> torch.Tensor | None:
    """A one-element tensor holding every element of ``value``, or None if there is none.

    ``value`` itself when it has no dims; its base when it is a stride-0 view of
    a one-element base at the same offset, as ``broadcast_all`` makes of a number
    beside a batched tensor (``Normal(torch.zeros(10), 1.0)``): the base is then
    read instead of reducing the view.
    """
    if value.dim() == 0:
        return value
    if torch.compiler.is_compiling():
        return None  # dynamo breaks the graph at storage_offset(): reduce instead
    base = value._base
    if base is None or base.dim() != 0 or any(value.stride()):
        return None
    return base if value.storage_offset() == base.storage_offset() else None


def _cpu_scalar_ok(constraint: Any, value: torch.Tensor) -> bool:
    # True when the 0-dim CPU tensor ``value`` passes; False sends the caller
    # to the full check. A constraint singleton has a one-call test, any other
    # interval-type constraint its predicate on extremes lo = hi = x.
    test = _SCALAR_TESTS.get(id(constraint))
    predicate = _EXTREME_CHECKS.get(type(constraint)) if test is None else None
    if test is None and predicate is None:
        return False  # nothing decides it from one number: no read
    # tolist() of a 0-dim tensor is item() through less dispatch (~3.6k
    # instead of ~5.9k instructions on the CPU); a number, though typed as a list.
    # (Handing over the number broadcast_all made the tensor from costs more:
    # holding the tensor for the check keeps its memory from being reused,
    # 8.3 against 7.1 us per Normal(0.0, 5.0).)
    x: Any = value.tolist()
    if type(x) is not float and type(x) is not int:
        return False  # a bool or complex element takes the full check
    if test is not None:
        return test[0](x) is test[1]
    return predicate is not None and bool(predicate(constraint, x, x))


def _number_passes(value: torch.Tensor, constraint: Any) -> bool:
    """Whether ``value`` is known to satisfy ``constraint`` without reading it back.

    It is, when it is the unchanged accelerator tensor :func:`broadcast_all`
    made from a Python number, and the number passes the constraint's test on
    extremes (both extremes are the number).
    """
    number = number_behind(value)  # recorded only off the CPU, where a read synchronises
    if number is None:
        return False
    predicate = _EXTREME_CHECKS.get(type(constraint))
    return predicate is not None and bool(predicate(constraint, number, number))


def _argument_error(
    cls: type, name: str, constraint: Any, value: torch.Tensor, valid: Any
) -> ValueError:
    # torch's constraint objects (user distributions) have no description.
    described = as_constraint(constraint).description
    return ValueError(
        f"{cls.__name__}: argument '{name}' must satisfy the constraint "
        f"{described}, but the tensor of shape {tuple(value.shape)} has "
        f"{describe_violation(value, valid)}. Pass values inside the constraint "
        f"(or validate_args=False to skip this check)."
    )


# -------------------------------------------------------------------- samples
def check_sample(dist: Any, value: Any) -> None:
    """Checks that ``value`` can be scored by ``dist``: type, event shape, support.

    Raises:
        ValueError: for a non-tensor, an event shape mismatch, a shape that does
            not broadcast with the batch shape, or a value outside the support.

    Example:
        >>> from distributions import Normal
        >>> check_sample(Normal(0.0, 1.0), torch.tensor([0.5, -1.0]))
    """
    if not isinstance(value, torch.Tensor):
        raise not_a_tensor_error(_log_prob_subject(dist), value)
    if value.shape != dist._batch_shape or dist._event_shape:
        check_sample_shape(dist, value, type(dist).__name__)
    support = dist.support
    if _KNOWN.get(value) is support:
        return  # never recorded for None or a dependent support
    if support is None or is_dependent(support) or _fast_ok(support, value):
        return
    check_support(dist, support, value, _log_prob_subject(dist))


def not_a_tensor_error(subject: Subject, value: Any) -> ValueError:
    """The error for a value that is not a tensor.

    Returns:
        A ``ValueError`` to raise.
    """
    return ValueError(
        f"{subject.prefix}expected a torch.Tensor {subject.noun}, got "
        f"{type(value).__name__}; wrap it with torch.as_tensor(...)"
    )


def check_support(
    dist: Any, support: Any, value: torch.Tensor, subject: Subject | None = None
) -> None:
    """Checks every element of ``value`` lies in ``support``; remembers a pass.

    Args:
        dist: the distribution, for the message.
        support: its support (not dependent).
        value: the tensor to check.
        subject: who the message is about (``"Normal.log_prob: value"`` by default).

    Raises:
        ValueError: naming the subject, the support and an offending element.

    Example:
        >>> from distributions import HalfNormal
        >>> check_support(HalfNormal(1.0), constraints.positive, torch.tensor([-1.0]))
        ...     # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: HalfNormal.log_prob: value of shape (1,) is outside the support x > 0.0: ...
    """
    if not (is_known_valid(value, support) or _fast_ok(support, value)):
        valid = support.check(value)
        if not _all_true(valid):
            subject = subject or _log_prob_subject(dist)
            if subject.list_offenders:
                where = describe_offenders(value, support)
            else:
                where = describe_violation(value, _broadcast_valid(valid, value, support))
            raise ValueError(
                f"{subject.prefix}{subject.noun} of shape {tuple(value.shape)} is outside the "
                f"support {as_constraint(support).description}{subject.owner}: {where}. "
                f"{subject.fix}"
            )
    mark_valid(value, support)


def _broadcast_valid(valid: torch.Tensor, value: torch.Tensor, support: Any) -> torch.Tensor:
    event_dim = getattr(support, "event_dim", 0)
    shape = value.shape[: value.dim() - event_dim] if event_dim else value.shape
    return valid.expand(shape) if valid.shape != shape else valid


def check_sample_shape(
    dist: Any,
    value: torch.Tensor,
    name: str,
    *,
    subject: Subject | None = None,
    batch_shape: torch.Size | None = None,
) -> torch.Size:
    """Checks that ``value`` ends in the event shape and broadcasts with the batch shape.

    Args:
        dist: the distribution scoring ``value``.
        value: the tensor.
        name: the distribution's name for the default subject ``"{name}.log_prob: value"``.
        subject: a :class:`Subject` replacing the default one.
        batch_shape: the batch shape to broadcast with (``dist.batch_shape``
            by default; a site passes its ``sample_shape`` prepended).

    Returns:
        The batch shape of the log-probability (the two batch shapes broadcast).

    Raises:
        ValueError: naming the subject, both shapes, and what must match.

    Example:
        >>> from distributions import Normal
        >>> check_sample_shape(Normal(torch.zeros(3), 1.0), torch.zeros(2, 1), "Normal")
        torch.Size([2, 3])
    """
    event_shape = dist.event_shape
    expected = dist.batch_shape if batch_shape is None else batch_shape
    if value.shape == expected + event_shape:
        return expected  # the common case: exactly the batch and event shape
    subject = subject or Subject(f"{name}.log_prob: ")
    n = len(event_shape)
    split = value.dim() - n
    if split < 0 or value.shape[split:] != event_shape:
        raise ValueError(
            f"{subject.prefix}{subject.noun} of shape {tuple(value.shape)} does not end in the "
            f"event shape {tuple(event_shape)} of {type(dist).__name__}; the rightmost {n} "
            "dim(s) must match exactly"
        )
    actual = value.shape[:split]
    try:
        return broadcast_shape(actual, expected)
    except RuntimeError:
        raise ValueError(
            f"{subject.prefix}{subject.noun} batch shape {tuple(actual)} does not broadcast "
            f"with the batch shape {tuple(expected)} of {type(dist).__name__}; reshape the "
            f"{subject.noun} or the distribution's parameters"
        ) from None
