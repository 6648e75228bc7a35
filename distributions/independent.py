"""``Independent``: reinterprets batch dims of a base distribution as event dims."""

from __future__ import annotations

from typing import Any

import torch

from distributions import constraints
from distributions.distribution import Distribution, ShapeLike, register_wrapper
from distributions.utils import sum_rightmost
from distributions.validation import check_sample_shape

__all__ = ["Independent"]


@register_wrapper("to_event")
class Independent(Distribution):
    """Treats the rightmost ``reinterpreted_batch_ndims`` batch dims as event dims.

    ``log_prob`` sums the base log-probabilities over those dims, so a batch of
    independent Normals becomes one diagonal-covariance multivariate density.

    Args:
        base_distribution: the distribution to reinterpret.
        reinterpreted_batch_ndims: number of batch dims to move into the event.
        validate_args: see :class:`Distribution`.

    Raises:
        ValueError: when asked to move more dims than the base has in its batch.

    Example:
        >>> from distributions import Normal
        >>> d = Independent(Normal(torch.zeros(4, 3), 1.0), 1)
        >>> d.batch_shape, d.event_shape
        (torch.Size([4]), torch.Size([3]))
    """

    arg_constraints: dict = {}

    def __init__(
        self,
        base_distribution: Distribution,
        reinterpreted_batch_ndims: int,
        validate_args: bool | None = None,
    ) -> None:
        n = reinterpreted_batch_ndims
        batch = base_distribution.batch_shape
        if n > len(batch):
            raise ValueError(
                f"Independent: reinterpreted_batch_ndims={n} exceeds the {len(batch)} batch "
                f"dim(s) of {type(base_distribution).__name__} with batch shape {tuple(batch)}"
            )
        self.base_dist = base_distribution
        self.reinterpreted_batch_ndims = n
        split = len(batch) - n
        super().__init__(
            batch[:split], batch[split:] + base_distribution.event_shape, validate_args
        )

    def expand(self, batch_shape: ShapeLike, _instance: Any = None) -> Independent:
        new = self._get_checked_instance(Independent, _instance)
        batch_shape = torch.Size(batch_shape)
        base_shape = batch_shape + self.event_shape[: self.reinterpreted_batch_ndims]
        new.base_dist = self.base_dist.expand(base_shape)
        new.reinterpreted_batch_ndims = self.reinterpreted_batch_ndims
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def has_rsample(self) -> bool:  # type: ignore[override]
        return self.base_dist.has_rsample

    @property
    def has_enumerate_support(self) -> bool:  # type: ignore[override]
        if self.reinterpreted_batch_ndims > 0:
            return False
        return self.base_dist.has_enumerate_support

    @constraints.dependent_property
    def support(self) -> Any:
        result = self.base_dist.support
        if self.reinterpreted_batch_ndims:
            result = constraints.independent(result, self.reinterpreted_batch_ndims)
        return result

    @property
    def mean(self) -> torch.Tensor:
        return self.base_dist.mean

    @property
    def mode(self) -> torch.Tensor:
        return self.base_dist.mode

    @property
    def variance(self) -> torch.Tensor:
        return self.base_dist.variance

    def sample(self, sample_shape: ShapeLike = torch.Size()) -> torch.Tensor:
        return self.base_dist.sample(sample_shape)

    def rsample(self, sample_shape: ShapeLike = torch.Size()) -> torch.Tensor:
        return self.base_dist.rsample(sample_shape)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        if self._validate_args and isinstance(value, torch.Tensor):
            # The base checks its support; the event shape is only known here.
            check_sample_shape(self, value, "Independent")
        return sum_rightmost(self.base_dist.log_prob(value), self.reinterpreted_batch_ndims)

    def entropy(self) -> torch.Tensor:
        return sum_rightmost(self.base_dist.entropy(), self.reinterpreted_batch_ndims)

    def enumerate_support(self, expand: bool = True) -> torch.Tensor:
        if self.reinterpreted_batch_ndims > 0:
            raise NotImplementedError(
                "Independent: enumerating the support over reinterpreted event dims would be "
                "exponential in their size; enumerate the base distribution instead"
            )
        return self.base_dist.enumerate_support(expand=expand)

    def __repr__(self) -> str:
        return f"Independent({self.base_dist!r}, {self.reinterpreted_batch_ndims})"
