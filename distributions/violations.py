"""Describing where a tensor leaves a constraint, in one line whatever its size.

Validation messages quote the offending values; printing a whole tensor (784
pixel intensities, a 1000-entry probability vector) buries the point. The
phrase here gives the shape, how many entries or events fail and the first
few with their indices.
"""

from distributions.torch_constraints import as_constraint

__all__ = ["abbreviate", "describe_offenders"]

# How many offending entries a message shows; the rest are counted.
_SHOWN = 3
# Longer events are shown by their first entries only.
_EVENT_ENTRIES = 4


def describe_offenders(value, constraint):
    """Describes where ``value`` leaves ``constraint``, in a line whatever its size.

    The phrase gives the value's shape, how many entries (or events, for a
    constraint on whole vectors or matrices) fail, and the first few of them
    with their indices; a long event is cut to its first entries.

    Args:
        value: the checked tensor.
        constraint: the constraint it fails.

    Returns:
        A phrase such as ``"2 of 4 entries of the tensor of shape (4,) fail,
        e.g. -1.0 at index (1,), -2.0 at index (3,)"``.

    Example:
        >>> import torch
        >>> from distributions import constraints
        >>> describe_offenders(torch.tensor([1.0, -1.0, 2.0]), constraints.positive)
        '1 of 3 entries of the tensor of shape (3,) fail, e.g. -1.0 at index (1,)'
    """
    constraint = as_constraint(constraint)
    if value.dim() == 0:
        return f"value {_num(value.item())}"
    base = constraint
    while hasattr(base, "reinterpreted_batch_ndims"):
        base = base.base_constraint
    ok = base.check(value) if base.event_dim == 0 else None
    unit = "entries"
    if ok is None or ok.shape != value.shape:
        ok, unit = constraint.check(value), "events"
    bad = (~ok).nonzero()
    shown = ", ".join(
        f"{_show(value, tuple(int(i) for i in index))} at index {tuple(int(i) for i in index)}"
        for index in bad[:_SHOWN]
    )
    more = ", ..." if len(bad) > _SHOWN else ""
    return (
        f"{len(bad)} of {ok.numel()} {unit} of the tensor of shape {tuple(value.shape)} fail, "
        f"e.g. {shown}{more}"
    )


def _num(x):
    if not isinstance(x, float):
        return repr(x)
    text = f"{x:.4g}"
    return f"{text}.0" if text.lstrip("-").isdigit() else text  # keep -1.0 a float


def _show(value, index):
    element = value[index]
    if element.numel() == 1:
        return _num(element.item())
    return abbreviate(element)


def abbreviate(tensor):
    """A tensor as a short phrase: its entries if few, else its shape and first entries.

    Example:
        >>> import torch
        >>> abbreviate(torch.tensor([0.5, 0.25])), abbreviate(torch.zeros(100))
        ('[0.5, 0.25]', '<event of shape (100,): 0.0, 0.0, 0.0, 0.0, ...>')
    """
    flat = [_num(x) for x in tensor.detach().flatten()[: _EVENT_ENTRIES + 1].tolist()]
    if tensor.numel() <= _EVENT_ENTRIES:
        return f"[{', '.join(flat)}]"
    return f"<event of shape {tuple(tensor.shape)}: {', '.join(flat[:_EVENT_ENTRIES])}, ...>"
