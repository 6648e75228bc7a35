"""Argument and sample validation with errors that say what to fix.

Validation runs on every construction while it is enabled, so the common case
(every check passes) costs one comparison and one boolean per argument; the
expensive part, locating an offending element, runs only when a check fails.
"""

import torch

from distributions import constraints
from distributions.constraints import is_dependent
from distributions.torch_constraints import as_constraint
from distributions.utils import lazy_property
from distributions.violations import abbreviate

__all__ = ["check_arguments", "check_sample", "check_sample_shape", "describe_violation"]


def _bound(b):
    return b.item() if isinstance(b, torch.Tensor) else b


# Predicates on the smallest and largest element. One reduction kernel and a
# Python comparison (about 2.4 us; 0.2 us for one element, read with ``.item()``)
# replace an elementwise comparison plus ``.all()`` (6-20 us). NaN extremes
# fail every predicate, so a NaN anywhere is caught; a False only sends the
# caller to ``check()``, which locates the offending element.
_EXTREME_CHECKS = {
    type(constraints.real): lambda c, lo, hi: lo == lo and hi == hi,
    constraints.greater_than: lambda c, lo, hi: lo > _bound(c.lower_bound),
    constraints.greater_than_eq: lambda c, lo, hi: lo >= _bound(c.lower_bound),
    constraints.less_than: lambda c, lo, hi: hi < _bound(c.upper_bound),
    constraints.interval: lambda c, lo, hi: (
        _bound(c.lower_bound) <= lo and hi <= _bound(c.upper_bound)
    ),
    constraints.half_open_interval: lambda c, lo, hi: (
        _bound(c.lower_bound) <= lo and hi < _bound(c.upper_bound)
    ),
}


def _scalar_bounds(constraint):
    bounds = (getattr(constraint, "lower_bound", 0.0), getattr(constraint, "upper_bound", 0.0))
    return all(not isinstance(b, torch.Tensor) or b.numel() == 1 for b in bounds)


def _extremes(value):
    if value.numel() == 1:
        x = value.item()
        return x, x
    lo, hi = torch.aminmax(value)
    return lo.item(), hi.item()


def _simplex_ok(value):
    # Nonnegative entries and every row sum within 1e-6 of 1, from three reductions.
    sums = value.sum(-1)
    low, high = _extremes(sums)
    return value.amin().item() >= 0 and 1 - 1e-6 < low and high < 1 + 1e-6


def _fast_ok(constraint, value):
    """True when every element of ``value`` satisfies ``constraint``; None if unsure.

    Covers the interval-type constraints with scalar bounds, the simplex, and
    ``independent`` wrappers of them (reinterpreting dims does not change
    whether every element passes).
    """
    if value.numel() == 0 or value.dtype == torch.bool:
        return None
    while isinstance(constraint, constraints.independent):
        if value.dim() < constraint.event_dim:
            return None  # check() raises the too-few-dims error
        constraint = constraint.base_constraint
    if constraint is constraints.simplex:
        return True if value.dim() >= 1 and _simplex_ok(value) else None
    predicate = _EXTREME_CHECKS.get(type(constraint))
    if predicate is None or not _scalar_bounds(constraint):
        return None
    return True if predicate(constraint, *_extremes(value)) else None


def _all_true(valid):
    if not isinstance(valid, torch.Tensor):
        return bool(valid)
    # bool() of a one-element tensor skips the reduction kernel of .all().
    return bool(valid) if valid.numel() == 1 else bool(valid.all())


def describe_violation(value, valid):
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


def _show(element):
    if element.numel() == 1:
        return element.item()
    # A long event (a 1000-entry probability vector) is cut to its first entries.
    return element.tolist() if element.numel() <= 6 else abbreviate(element)


def check_arguments(dist):
    """Checks each constrained parameter of ``dist`` against ``arg_constraints``.

    Parameters that are lazily derived and not yet computed (``probs`` of a
    distribution built from ``logits``) and dependent constraints are skipped.

    Raises:
        ValueError: naming the distribution, argument, shape, constraint and an
            offending element, and how to fix or silence it.
    """
    if torch._C._is_torch_function_mode_enabled():
        # The checks only decide whether to raise: they run below torch-function
        # modes, so a tracing mode neither pays for nor sees their reads.
        with torch._C.DisableTorchFunction():
            return _check_each_argument(dist)
    return _check_each_argument(dist)


def _check_each_argument(dist):
    cls = type(dist)
    for name, constraint in dist.arg_constraints.items():
        if is_dependent(constraint):
            continue
        if name not in dist.__dict__ and isinstance(getattr(cls, name, None), lazy_property):
            continue
        value = getattr(dist, name)
        if not isinstance(value, torch.Tensor):
            value = torch.as_tensor(value)
        if _fast_ok(constraint, value):
            continue
        valid = constraint.check(value)
        if not _all_true(valid):
            # torch's constraint objects (user distributions) have no description.
            described = as_constraint(constraint).description
            raise ValueError(
                f"{cls.__name__}: argument '{name}' must satisfy the constraint "
                f"{described}, but the tensor of shape {tuple(value.shape)} has "
                f"{describe_violation(value, valid)}. Pass values inside the constraint "
                f"(or validate_args=False to skip this check)."
            )


def check_sample(dist, value):
    """Checks that ``value`` can be scored by ``dist``: type, event shape, support.

    Raises:
        ValueError: for a non-tensor, an event shape mismatch, a shape that does
            not broadcast with the batch shape, or a value outside the support.
    """
    if not isinstance(value, torch.Tensor):
        raise ValueError(
            f"{type(dist).__name__}.log_prob: expected a torch.Tensor value, got "
            f"{type(value).__name__}; wrap it with torch.as_tensor(...)"
        )
    if value.shape != dist._batch_shape or dist._event_shape:
        check_sample_shape(dist, value, type(dist).__name__)
    support = dist.support
    if support is None or is_dependent(support) or _fast_ok(support, value):
        return
    valid = support.check(value)
    if not _all_true(valid):
        name = type(dist).__name__
        raise ValueError(
            f"{name}.log_prob: value of shape {tuple(value.shape)} is outside the support "
            f"{as_constraint(support).description}: "
            f"{describe_violation(value, _broadcast_valid(valid, value, support))}. "
            f"Score only values in the support (or pass validate_args=False)."
        )


def _broadcast_valid(valid, value, support):
    event_dim = getattr(support, "event_dim", 0)
    shape = value.shape[: value.dim() - event_dim] if event_dim else value.shape
    return valid.expand(shape) if valid.shape != shape else valid


def check_sample_shape(dist, value, name):
    """Checks that ``value`` ends in the event shape and broadcasts with the batch shape.

    Raises:
        ValueError: naming the distribution, both shapes, and what must match.
    """
    event_shape = dist.event_shape
    n = len(event_shape)
    if n and value.shape[value.dim() - n :] != event_shape:
        raise ValueError(
            f"{name}.log_prob: value of shape {tuple(value.shape)} does not end in the "
            f"event shape {tuple(event_shape)}; the rightmost {n} dim(s) must match exactly"
        )
    actual = value.shape[: value.dim() - n]
    expected = dist.batch_shape
    for a, e in zip(reversed(actual), reversed(expected)):
        if a != 1 and e != 1 and a != e:
            raise ValueError(
                f"{name}.log_prob: value batch shape {tuple(actual)} does not broadcast with "
                f"the distribution's batch shape {tuple(expected)}; reshape the value or "
                "expand the distribution"
            )
