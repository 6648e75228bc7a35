"""``scale`` and ``mask``: reweight or switch off the log-probabilities of sites."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import torch

from ppl.runtime import Message, Messenger

__all__ = ["scale", "mask"]


class scale(Messenger):
    """Multiplies the log-probability of every sample site inside by ``scale``.

    Nested scales multiply. Common uses: a minibatch correction, or tempering
    a likelihood.

    Args:
        fn: the model.
        scale: a positive number, or a positive tensor broadcastable to the
            batch shapes of the sites.

    Raises:
        ValueError: when ``scale`` is not positive.

    Example:
        >>> import ppl, torch
        >>> from distributions import Normal
        >>> def model():
        ...     ppl.sample("x", Normal(0.0, 1.0), obs=torch.tensor(0.0))
        >>> tr = ppl.handlers.trace(scale(model, scale=2.0)).get_trace()
        >>> tr.nodes["x"]["scale"]
        2.0
    """

    def __init__(
        self, fn: Callable[..., Any] | None = None, scale: float | torch.Tensor = 1.0
    ) -> None:
        super().__init__(fn)
        if isinstance(scale, numbers.Number):
            ok = scale > 0
        elif isinstance(scale, torch.Tensor):
            ok = bool((scale > 0).all())
        else:
            raise TypeError(f"scale: expected a number or a tensor, got {type(scale).__name__}")
        if not ok:
            raise ValueError(f"scale: expected a positive scale, got {scale}")
        self.scale = scale

    def _process_sample(self, msg: Message) -> None:
        msg.scale = self.scale * msg.scale


class mask(Messenger):
    """Masks the log-probabilities of the sample sites inside.

    Entries where ``mask`` is ``False`` contribute zero log-probability (and no
    gradient); values are still drawn. Nested masks combine with logical and.

    Args:
        fn: the model.
        mask: a bool, or a bool tensor broadcastable to the batch shapes.

    Raises:
        TypeError: when ``mask`` is neither a bool nor a bool tensor.

    Example:
        >>> import ppl, torch
        >>> from distributions import Normal
        >>> def model():
        ...     with ppl.plate("data", 2):
        ...         ppl.sample("x", Normal(0.0, 1.0), obs=torch.zeros(2))
        >>> tr = ppl.handlers.trace(mask(model, mask=torch.tensor([True, False]))).get_trace()
        >>> tr.compute_log_prob(); tr.nodes["x"]["log_prob"][1].item()
        0.0
    """

    def __init__(
        self, fn: Callable[..., Any] | None = None, mask: bool | torch.Tensor | None = None
    ) -> None:
        super().__init__(fn)
        if not (
            isinstance(mask, bool) or (isinstance(mask, torch.Tensor) and mask.dtype == torch.bool)
        ):
            described = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise TypeError(
                f"mask: expected a bool or a bool tensor, got {described}; "
                "convert it with mask.bool() (or compare, e.g. x > 0)"
            )
        self.mask = mask

    def _process_sample(self, msg: Message) -> None:
        msg.mask = _combine(msg.mask, self.mask)


def _combine(old: bool | torch.Tensor | None, new: bool | torch.Tensor) -> bool | torch.Tensor:
    if old is None or old is True:
        return new
    if new is True:
        return old
    if old is False or new is False:
        return False
    return old & new
