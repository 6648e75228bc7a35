"""Checks that a site's batch dims are the plates the program declares.

A log-probability is summed over every batch dim, so a batch dim that no
plate declares is silently treated as independent data: a vector latent
without ``.to_event(1)`` becomes many independent scalars, and observations
without a plate are never scaled when the data are subsampled.

As in Pyro, the site check runs where a model and a guide are scored (the
ELBOs call :func:`check_trace_plates` under validation, through
``inference.guide_checks``), not on every traced run: a plain ``trace`` of a
model without plates stays valid, as Pyro's reference models assume. The
local-parameter check runs in the plates themselves.

Dims a site may use without a plate: those of its ``sample_shape`` (declared
i.i.d. draws), those an enumeration handler allocated (``infer["_enum_dims"]``,
``infer["_enum_dim"]``), and those left of ``max_plate_nesting`` when it is
given. Sizes of 1 are always fine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from distributions.distribution import ShapeLike
from distributions.utils import broadcast_shape
from ppl.runtime import Message
from ppl.trace_struct import Trace

if TYPE_CHECKING:  # ppl.plate imports this module: the frame type is for the checker only
    from ppl.plate import CondIndepStackFrame

__all__ = [
    "check_local_param",
    "check_plates_cover",
    "check_trace_plates",
    "missing_plate_error",
]


def _plate_dims(msg: Message) -> dict[int, CondIndepStackFrame]:
    return {f.dim: f for f in msg.cond_indep_stack if f.dim is not None}


def _exempt_dims(msg: Message, batch_ndim: int, sample_ndim: int) -> set[int]:
    """Dims that need no plate: the sample_shape's and the enumeration's."""
    exempt = set(range(-batch_ndim - sample_ndim, -batch_ndim))
    exempt.update(msg.infer.get("_enum_dims", {}))
    if msg.infer.get("_enum_dim") is not None:
        exempt.add(msg.infer["_enum_dim"])
    return exempt


def _log_prob_shape(msg: Message, sample_shape: ShapeLike) -> torch.Size | None:
    """The batch shape the site's log-probability will have (None if it cannot tell)."""
    fn = msg.fn
    shape = torch.Size(sample_shape) + fn.batch_shape
    value = msg.value
    if isinstance(value, torch.Tensor):
        split = value.dim() - len(fn.event_shape)
        try:
            shape = broadcast_shape(value.shape[: max(split, 0)], shape)
        except RuntimeError:
            return None  # the observation checks report a broadcast failure
    return shape


def check_plates_cover(msg: Message, max_plate_nesting: float = math.inf) -> None:
    """Raises when a batch dim of a sample site's log-probability has no plate.

    Args:
        msg: a sample :class:`~ppl.runtime.Message` after the handlers' process
            phase (so the plates have broadcast ``msg.fn``), e.g. a trace node.
        max_plate_nesting: dims further left than this many are not checked
            (enumeration may use them); every dim is checked by default.

    Raises:
        ValueError: from :func:`missing_plate_error`.

    Example:
        >>> import ppl, torch
        >>> from distributions import Normal
        >>> msg = ppl.Message(type="sample", name="z", fn=Normal(torch.zeros(2), 1.0))
        >>> check_plates_cover(msg)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: sample site 'z': its log_prob has batch shape (2,), but no plate covers ...
    """
    sample_shape = msg.kwargs.get("sample_shape", ())
    shape = _log_prob_shape(msg, sample_shape)
    if shape is None:
        return
    plates = _plate_dims(msg)
    exempt = None
    for dim in range(-1, -int(min(len(shape), max_plate_nesting)) - 1, -1):
        if shape[dim] == 1 or dim in plates:
            continue
        if exempt is None:
            exempt = _exempt_dims(msg, len(msg.fn.batch_shape), len(sample_shape))
        if dim not in exempt:
            raise missing_plate_error(msg, shape, dim, plates)


def check_trace_plates(trace: Trace, max_plate_nesting: float = math.inf) -> None:
    """Runs :func:`check_plates_cover` on every scored sample site of a trace.

    Sites fully masked out (``deterministic``, ``mask(False)``) are skipped.

    Args:
        trace: a :class:`~ppl.trace_struct.Trace`.
        max_plate_nesting: see :func:`check_plates_cover`.

    Raises:
        ValueError: for the first site with an uncovered dim, with the trace's
            shape table appended.

    Example:
        >>> import ppl, torch
        >>> from distributions import Normal
        >>> def model():
        ...     with ppl.plate("data", 3):
        ...         ppl.sample("x", Normal(0.0, 1.0))
        >>> check_trace_plates(ppl.handlers.trace(model).get_trace())
    """
    for name, site in trace.nodes.items():
        if site.type != "sample" or site.mask is False:
            continue
        try:
            check_plates_cover(site, max_plate_nesting)
        except ValueError as e:
            raise ValueError(f"{e}\n{trace.format_shapes(last_site=name)}") from None


def missing_plate_error(msg: Message, shape: Sequence[int], dim: int, plates: Any) -> ValueError:
    """The error for a batch dim no plate covers, with the fixes.

    Args:
        msg: the sample site.
        shape: the batch shape of its log-probability.
        dim: the uncovered dim (negative).
        plates: ``{dim: frame}`` of the site's vectorized plates.

    Returns:
        A ``ValueError`` to raise.
    """
    name, size = msg.name, shape[dim]
    fn = msg.fn
    held = ", ".join(f"'{f.name}' at dim {d}" for d, f in sorted(plates.items(), reverse=True))
    held = f"its plates are {held}" if held else "it is in no plate"
    to_event = -dim if dim >= -len(fn.batch_shape) else None
    event_fix = (
        f"if those {size} entries form one draw (a vector), use "
        f"{type(fn).__name__}(...).to_event({to_event}); "
        if to_event is not None
        else ""
    )
    observed = " (or reshape the observation)" if msg.is_observed else ""
    return ValueError(
        f"sample site '{name}': its log_prob has batch shape {tuple(shape)}, but no plate "
        f"covers dim {dim} (of size {size}); {held}. Summing over that dim would treat its "
        f"entries as independent without saying so. Fix: {event_fix}if they are independent "
        f"data, enclose the site in `with ppl.plate('...', {size}, dim={dim}):`{observed}"
    )


def check_local_param(msg: Message, frame: CondIndepStackFrame) -> None:
    """Raises when a local parameter's size at its plate's dim is not the plate's size.

    A parameter created with ``event_dim`` inside a plate has one row per plate
    element along the plate's dim (counted left of the ``event_dim`` rightmost
    dims): a different size there cannot be indexed by the plate's subsample.

    Args:
        msg: a param :class:`~ppl.runtime.Message` with its value computed.
        frame: a vectorized plate frame enclosing it.

    Raises:
        ValueError: naming the parameter, the plate, both sizes and the fix.

    Example:
        >>> import ppl, torch
        >>> from ppl.plate import CondIndepStackFrame
        >>> frame = CondIndepStackFrame("data", -1, 5, 5)
        >>> msg = ppl.Message(type="param", name="w", value=torch.zeros(3),
        ...                   kwargs={"event_dim": 0})
        >>> check_local_param(msg, frame)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: param 'w': shape (3,) has size 3 at dim -1 (plate 'data' of size 5)...
    """
    event_dim = msg.kwargs.get("event_dim")
    value = msg.value
    if event_dim is None or frame.dim is None or not isinstance(value, torch.Tensor):
        return
    dim = frame.dim - event_dim
    if value.dim() < -dim or value.shape[dim] in (1, frame.size):
        return
    raise ValueError(
        f"param '{msg.name}': shape {tuple(value.shape)} has size {value.shape[dim]} at dim "
        f"{frame.dim} (plate '{frame.name}' of size {frame.size}), counted left of its "
        f"event_dim={event_dim} rightmost dims; a local parameter needs one entry per plate "
        f"element there. Give it size {frame.size} at that dim, or create it outside the "
        f"plate (or with event_dim=None) if it is global"
    )
