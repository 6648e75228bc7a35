"""``MaskedDistribution``: zeroes the log-probability of masked-out batch elements."""

from __future__ import annotations

from typing import Any

import torch

from distributions import constraints
from distributions.distribution import Distribution, ShapeLike, register_wrapper
from distributions.utils import broadcast_shape

__all__ = ["MaskedDistribution"]


@register_wrapper("mask")
class MaskedDistribution(Distribution):
    """Wraps a distribution so masked-out elements score zero with no gradient.

    Built by :meth:`Distribution.mask`. Sampling is unchanged; ``log_prob`` is
    ``where(mask, base.log_prob(x), 0)``, which blocks gradients (and NaNs) from
    masked elements, unlike multiplying by the mask.

    Args:
        base_dist: the distribution to mask.
        mask: a bool tensor broadcastable to ``base_dist.batch_shape``, or a bool.

    Raises:
        ValueError: for a non-boolean mask or one that does not broadcast.

    Example:
        >>> from distributions import Normal
        >>> m = MaskedDistribution(Normal(torch.zeros(2), 1.0), torch.tensor([True, False]))
        >>> m.log_prob(torch.zeros(2))[1].item()
        0.0
    """

    arg_constraints: dict = {}

    def __init__(self, base_dist: Distribution, mask: torch.Tensor | bool) -> None:
        if isinstance(mask, bool):
            mask = torch.tensor(mask)
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise ValueError(
                f"mask: expected a bool tensor or a bool, got "
                f"{getattr(mask, 'dtype', type(mask).__name__)}; convert with mask.bool()"
            )
        batch = base_dist.batch_shape
        try:
            batch_shape = broadcast_shape(mask.shape, batch)
        except RuntimeError as e:
            raise ValueError(
                f"mask: shape {tuple(mask.shape)} does not broadcast with the batch shape "
                f"{tuple(batch)} of {type(base_dist).__name__}"
            ) from e
        self.base_dist = base_dist.expand(batch_shape) if batch_shape != batch else base_dist
        self._mask = mask
        super().__init__(batch_shape, base_dist.event_shape, validate_args=False)

    def expand(self, batch_shape: ShapeLike, _instance: Any = None) -> MaskedDistribution:
        batch_shape = torch.Size(batch_shape)
        return MaskedDistribution(
            self.base_dist.expand(batch_shape), self._mask.expand(batch_shape)
        )

    @property
    def has_rsample(self) -> bool:  # type: ignore[override]
        return self.base_dist.has_rsample

    @property
    def has_enumerate_support(self) -> bool:  # type: ignore[override]
        return self.base_dist.has_enumerate_support

    @constraints.dependent_property
    def support(self) -> Any:
        return self.base_dist.support

    def sample(self, sample_shape: ShapeLike = torch.Size()) -> torch.Tensor:
        return self.base_dist.sample(sample_shape)

    def rsample(self, sample_shape: ShapeLike = torch.Size()) -> torch.Tensor:
        return self.base_dist.rsample(sample_shape)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        lp = self.base_dist.log_prob(value)
        if self._mask.numel() == 1 and bool(self._mask):
            return lp
        return torch.where(self._mask, lp, lp.new_zeros(()))

    def enumerate_support(self, expand: bool = True) -> torch.Tensor:
        return self.base_dist.enumerate_support(expand=expand)

    @property
    def mean(self) -> torch.Tensor:
        return self.base_dist.mean

    @property
    def variance(self) -> torch.Tensor:
        return self.base_dist.variance

    def __repr__(self) -> str:
        return f"MaskedDistribution({self.base_dist!r})"
