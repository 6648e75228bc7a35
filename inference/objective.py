"""``Objective``: the loss-method protocol SVI calls, from one ``differentiable_loss``.

Estimators that are not built on :class:`~inference.elbo.ELBO` (the
multi-sample bounds, the enumerated ELBO) define ``differentiable_loss`` and
inherit the float-valued ``loss``, ``loss_and_grads`` and ``__call__`` here.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["Objective"]


class Objective(abc.ABC):
    """Base class: subclasses define ``differentiable_loss(model, guide, *args, **kwargs)``.

    Example:
        >>> import torch
        >>> class Constant(Objective):
        ...     def differentiable_loss(self, model, guide, *args, **kwargs):
        ...         return torch.tensor(2.0)
        >>> Constant().loss(None, None)
        2.0
    """

    @abc.abstractmethod
    def differentiable_loss(
        self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> torch.Tensor:
        """The loss tensor whose value is the objective and whose gradient the estimator's."""

    def loss(
        self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> float:
        """The loss as a float, computed without gradients."""
        with torch.no_grad():
            return float(self.differentiable_loss(model, guide, *args, **kwargs))

    def loss_and_grads(
        self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> float:
        """Computes the loss, backpropagates into the parameters, returns the loss as a float."""
        loss = self.differentiable_loss(model, guide, *args, **kwargs)
        if isinstance(loss, torch.Tensor) and loss.requires_grad:
            loss.backward()
        return float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)

    def __call__(
        self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        return self.differentiable_loss(model, guide, *args, **kwargs)
