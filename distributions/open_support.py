"""Draws kept on the floats of their support.

In exact arithmetic a Weibull, log-normal or Pareto draw is finite and a
Kumaraswamy draw lies strictly inside ``(0, 1)``; in floating point an
``exp`` or a power of an extreme parameter overflows to ``inf`` or underflows
to 0, and rounding can land a hair past a bounded end. There ``log_prob`` of
the family's own draw is ``-inf`` (the fuzzer of issue 16 found it in six
families). Every sampler passes its draws through :func:`clamp_to_support`,
which moves such a value to the nearest float of the support and leaves every
other draw untouched; a draw moved this way stands for the mass beyond the
largest (or below the smallest) representable value of the support.
"""

import math

import torch

Bound = float | torch.Tensor

__all__ = ["clamp_to_support"]


def _bound(end: Bound, inside: int, info: torch.finfo, like: torch.Tensor) -> Bound:
    """``end`` as a tensor bound, moved to the first float inside when the end is open."""
    if isinstance(end, torch.Tensor):
        if not inside:
            return end.clamp(min=-info.max, max=info.max).to(like.dtype)
        toward = torch.full_like(end, math.inf if inside > 0 else -math.inf)
        return torch.nextafter(end.to(like.dtype), toward)
    if math.isinf(end):
        return math.copysign(info.max, end)
    if inside and end == 0:
        # The smallest normal number, not a subnormal: powers and logs of a
        # subnormal lose precision (torch's gamma sampler clamps there too).
        return math.copysign(info.tiny, inside)
    if inside:
        toward = torch.tensor(math.inf if inside > 0 else -math.inf, dtype=like.dtype)
        return float(torch.nextafter(torch.tensor(end, dtype=like.dtype), toward))
    return end


def clamp_to_support(
    x: torch.Tensor,
    low: Bound = -math.inf,
    high: Bound = math.inf,
    open_low: bool = False,
    open_high: bool = False,
) -> torch.Tensor:
    """``x`` moved onto the floats of ``[low, high]`` (open ends excluded), otherwise unchanged.

    An infinite end stands for the largest finite float: a draw that overflowed
    to ``inf`` becomes ``finfo.max``. An open end at 0 becomes the smallest
    normal number ``finfo.tiny``; any other open end the next float inside.
    Gradients pass through unclamped elements and are 0 at clamped ones, as
    for :func:`torch.clamp`.

    Args:
        x: floating tensor of draws.
        low, high: the support's ends, numbers or tensors broadcastable with ``x``.
        open_low, open_high: whether the ends themselves are excluded.

    Returns:
        A tensor of ``x``'s shape and dtype.

    Example:
        >>> x = torch.tensor([0.0, 0.5, 1.0, float("inf")])
        >>> clamp_to_support(x, 0.0, 1.0, open_low=True, open_high=True).tolist()[1:3]
        [0.5, 0.9999999403953552]
        >>> clamp_to_support(x, 0.0, open_low=True)[[0, 3]].tolist()
        [1.1754943508222875e-38, 3.4028234663852886e+38]
    """
    info = torch.finfo(x.dtype)
    lo = _bound(low, 1 if open_low else 0, info, x)
    hi = _bound(high, -1 if open_high else 0, info, x)
    # min last: a degenerate support (an open end one float from the other) keeps its low end.
    return x.clamp(max=hi).clamp(min=lo)
