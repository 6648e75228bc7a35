"""``ExpandedDistribution``: a generic batch-shape expansion of any distribution."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from distributions import constraints
from distributions.distribution import Distribution, ShapeLike, register_wrapper
from distributions.utils import broadcast_shape

__all__ = ["ExpandedDistribution"]


@register_wrapper("expand")
class ExpandedDistribution(Distribution):
    """Broadcasts a distribution to a larger batch shape without copying parameters.

    The fallback of :meth:`Distribution.expand` for families that do not expand
    their parameters themselves: samples are drawn for the new leading dims and
    ``log_prob`` broadcasts against the base.

    Args:
        base_dist: the distribution to expand.
        batch_shape: the target batch shape; must broadcast from the base's.

    Raises:
        ValueError: when ``batch_shape`` does not broadcast from the base's batch shape.

    Example:
        >>> from distributions import Normal
        >>> ExpandedDistribution(Normal(0.0, 1.0), [3]).sample().shape
        torch.Size([3])
    """

    arg_constraints: dict = {}

    def __init__(self, base_dist: Distribution, batch_shape: ShapeLike) -> None:
        batch_shape = torch.Size(batch_shape)
        base_batch = base_dist.batch_shape
        if not _expands_to(base_batch, batch_shape):
            raise ValueError(
                f"expand: batch shape {tuple(base_batch)} of {type(base_dist).__name__} cannot "
                f"be expanded to {tuple(batch_shape)}; only size-1 or missing dims expand"
            )
        self.base_dist = base_dist
        super().__init__(batch_shape, base_dist.event_shape, validate_args=False)

    def expand(self, batch_shape: ShapeLike, _instance: Any = None) -> ExpandedDistribution:
        return ExpandedDistribution(self.base_dist, batch_shape)

    @property
    def has_rsample(self) -> bool:  # type: ignore[override]
        return self.base_dist.has_rsample

    @property
    def has_enumerate_support(self) -> bool:  # type: ignore[override]
        return self.base_dist.has_enumerate_support

    @constraints.dependent_property
    def support(self) -> Any:
        return self.base_dist.support

    def _draw(
        self, sampler: Callable[[torch.Size], torch.Tensor], sample_shape: ShapeLike
    ) -> torch.Tensor:
        # New leading dims and base dims of size 1 that grow both need independent
        # draws: ask the base for them as extra sample dims, then move the grown
        # dims into the singleton positions they replace.
        sample_shape = torch.Size(sample_shape)
        base_batch = self.base_dist.batch_shape
        extra = len(self.batch_shape) - len(base_batch)
        grown = [i for i, b in enumerate(base_batch) if b == 1 and self.batch_shape[extra + i] != 1]
        sizes = torch.Size(self.batch_shape[extra + i] for i in grown)
        value = sampler(sample_shape + self.batch_shape[:extra] + sizes)
        offset = len(sample_shape) + extra
        if grown:
            first_base = offset + len(grown)
            value = value.squeeze(tuple(first_base + i for i in grown))
            source = [offset + k for k in range(len(grown))]
            value = value.movedim(source, [offset + i for i in grown])
        return value

    def sample(self, sample_shape: ShapeLike = torch.Size()) -> torch.Tensor:
        return self._draw(self.base_dist.sample, sample_shape)

    def rsample(self, sample_shape: ShapeLike = torch.Size()) -> torch.Tensor:
        return self._draw(self.base_dist.rsample, sample_shape)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        lp = self.base_dist.log_prob(value)
        shape = broadcast_shape(lp.shape, self.batch_shape)
        return lp.expand(shape)

    def enumerate_support(self, expand: bool = True) -> torch.Tensor:
        values = self.base_dist.enumerate_support(expand=False)
        if expand:
            values = values.expand((values.shape[0],) + self._extended_shape())
        return values

    @property
    def mean(self) -> torch.Tensor:
        return self.base_dist.mean.expand(self._extended_shape())

    @property
    def variance(self) -> torch.Tensor:
        return self.base_dist.variance.expand(self._extended_shape())

    def entropy(self) -> torch.Tensor:
        return self.base_dist.entropy().expand(self.batch_shape)


def _expands_to(shape: torch.Size, target: torch.Size) -> bool:
    """Whether ``shape`` broadcasts to exactly ``target`` (size-1 or missing dims grow)."""
    if len(shape) > len(target):
        return False
    return all(s in (1, t) for s, t in zip(reversed(shape), reversed(target)))
