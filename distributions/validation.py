"""Argument and sample validation with errors that say what to fix.

Validation runs on every construction while it is enabled, so the common case
(every check passes) costs one comparison and one boolean per argument; the
expensive part, locating an offending element, runs only when a check fails.
"""

import torch

from distributions.constraints import is_dependent
from distributions.utils import lazy_property

__all__ = ["check_arguments", "check_sample", "describe_violation"]


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
    bad = (~valid).nonzero()
    if bad.numel() == 0:
        return "an invalid value"
    index = tuple(int(i) for i in bad[0])
    element = value
    for i in index:
        element = element[i] if element.dim() else element
    if isinstance(element, torch.Tensor) and element.numel() == 1:
        element = element.item()
    elif isinstance(element, torch.Tensor):
        element = element.tolist()
    return f"value {element} at index {index}"


def check_arguments(dist):
    """Checks each constrained parameter of ``dist`` against ``arg_constraints``.

    Parameters that are lazily derived and not yet computed (``probs`` of a
    distribution built from ``logits``) and dependent constraints are skipped.

    Raises:
        ValueError: naming the distribution, argument, shape, constraint and an
            offending element, and how to fix or silence it.
    """
    cls = type(dist)
    for name, constraint in dist.arg_constraints.items():
        if is_dependent(constraint):
            continue
        if name not in dist.__dict__ and isinstance(getattr(cls, name, None), lazy_property):
            continue
        value = getattr(dist, name)
        if not isinstance(value, torch.Tensor):
            value = torch.as_tensor(value)
        valid = constraint.check(value)
        if not _all_true(valid):
            raise ValueError(
                f"{cls.__name__}: argument '{name}' must satisfy the constraint "
                f"{constraint}, but the tensor of shape {tuple(value.shape)} has "
                f"{describe_violation(value, valid)}. Pass values inside the constraint "
                f"(or validate_args=False to skip this check)."
            )


def check_sample(dist, value):
    """Checks that ``value`` can be scored by ``dist``: type, event shape, support.

    Raises:
        ValueError: for a non-tensor, an event shape mismatch, a shape that does
            not broadcast with the batch shape, or a value outside the support.
    """
    name = type(dist).__name__
    if not isinstance(value, torch.Tensor):
        raise ValueError(
            f"{name}.log_prob: expected a torch.Tensor value, got {type(value).__name__}; "
            "wrap it with torch.as_tensor(...)"
        )
    _check_sample_shape(dist, value, name)
    support = dist.support
    if support is None or is_dependent(support):
        return
    valid = support.check(value)
    if not _all_true(valid):
        raise ValueError(
            f"{name}.log_prob: value of shape {tuple(value.shape)} is outside the support "
            f"{support}: {describe_violation(value, _broadcast_valid(valid, value, support))}. "
            f"Score only values in the support (or pass validate_args=False)."
        )


def _broadcast_valid(valid, value, support):
    event_dim = getattr(support, "event_dim", 0)
    shape = value.shape[: value.dim() - event_dim] if event_dim else value.shape
    return valid.expand(shape) if valid.shape != shape else valid


def _check_sample_shape(dist, value, name):
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
