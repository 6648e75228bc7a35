"""``TransformedDistribution``: a base distribution pushed through bijections."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from distributions import constraints
from distributions.distribution import Distribution, ShapeLike
from distributions.independent import Independent
from distributions.transforms import ComposeTransform, Transform
from distributions.utils import sum_rightmost

__all__ = ["TransformedDistribution"]


class TransformedDistribution(Distribution):
    """The law of ``y = f_n(...f_1(x))`` for ``x ~ base_distribution``.

    ``log_prob(y)`` inverts the transforms and subtracts each
    ``log|det J|`` by the change-of-variables formula, summed over the event
    dims each transform owns. Shapes follow ``forward_shape`` of each transform.

    Args:
        base_distribution: the distribution of ``x``.
        transforms: a :class:`Transform` or a list of them, applied in order.
        validate_args: see :class:`Distribution`.

    Raises:
        ValueError: for a non-Transform entry, or a base whose shape is too small
            for the transforms' domain event dims.

    Example:
        >>> from distributions import Normal
        >>> from distributions.transforms import ExpTransform
        >>> d = TransformedDistribution(Normal(0.0, 1.0), [ExpTransform()])
        >>> round(d.log_prob(torch.tensor(1.0)).item(), 4)
        -0.9189
    """

    arg_constraints: dict = {}

    def __init__(
        self,
        base_distribution: Distribution,
        transforms: Transform | Sequence[Transform],
        validate_args: bool | None = None,
    ) -> None:
        self.transforms = _as_transform_list(transforms)
        self.base_dist = base_distribution
        base_shape = base_distribution.batch_shape + base_distribution.event_shape
        chain = ComposeTransform(self.transforms)
        domain_dim = chain.domain.event_dim
        if len(base_shape) < domain_dim:
            raise ValueError(
                f"TransformedDistribution: the transforms need a base with at least "
                f"{domain_dim} dim(s), but {type(base_distribution).__name__} has shape "
                f"{tuple(base_shape)}"
            )
        base_event_dim = len(base_distribution.event_shape)
        if domain_dim > base_event_dim:
            self.base_dist = Independent(base_distribution, domain_dim - base_event_dim)
        shape = chain.forward_shape(base_shape)
        # Transforms with batched parameters widen the batch (torch's rule): the base
        # is expanded to match, so its draws are independent across the new dims.
        widened = chain.inverse_shape(shape)
        if widened != base_shape:
            base_event = len(self.base_dist.event_shape)
            self.base_dist = self.base_dist.expand(widened[: len(widened) - base_event])
        event_dim = chain.codomain.event_dim + max(base_event_dim - domain_dim, 0)
        split = len(shape) - event_dim
        super().__init__(shape[:split], shape[split:], validate_args=validate_args)

    def expand(self, batch_shape: ShapeLike, _instance: Any = None) -> TransformedDistribution:
        new = self._get_checked_instance(TransformedDistribution, _instance)
        batch_shape = torch.Size(batch_shape)
        chain = ComposeTransform(self.transforms)
        shape = batch_shape + self.event_shape
        base_shape = chain.inverse_shape(shape)
        base_event = len(self.base_dist.event_shape)
        split = len(base_shape) - base_event
        new.base_dist = self.base_dist.expand(base_shape[:split])
        new.transforms = self.transforms
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property
    def support(self) -> Any:
        if not self.transforms:
            return self.base_dist.support
        codomain = self.transforms[-1].codomain
        extra = len(self.event_shape) - codomain.event_dim
        return constraints.independent(codomain, extra) if extra > 0 else codomain

    @property
    def has_rsample(self) -> bool:  # type: ignore[override]
        return self.base_dist.has_rsample

    def sample(self, sample_shape: ShapeLike = torch.Size()) -> torch.Tensor:
        with torch.no_grad():
            x = self.base_dist.sample(sample_shape)
            for t in self.transforms:
                x = t(x)
            return x

    def rsample(self, sample_shape: ShapeLike = torch.Size()) -> torch.Tensor:
        x = self.base_dist.rsample(sample_shape)
        for t in self.transforms:
            x = t(x)
        return x

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        if self._validate_args:
            self._validate_sample(value)
        event_dim = len(self.event_shape)
        log_det = None  # summed Jacobian terms, subtracted once (one full-size op fewer)
        y = value
        for t in reversed(self.transforms):
            x = t.inv(y)
            event_dim += t.domain.event_dim - t.codomain.event_dim
            term = sum_rightmost(t.log_abs_det_jacobian(x, y), event_dim - t.domain.event_dim)
            log_det = term if log_det is None else log_det + term
            y = x
        base_lp = self.base_dist.log_prob(y)
        base_lp = sum_rightmost(base_lp, event_dim - len(self.base_dist.event_shape))
        return base_lp if log_det is None else base_lp - log_det

    def _monotone_cdf_transforms(self) -> Any:
        sign = 1
        for t in self.transforms:
            if t.domain.event_dim or t.codomain.event_dim:
                raise NotImplementedError(
                    "TransformedDistribution.cdf needs elementwise monotone transforms; "
                    f"{type(t).__name__} acts on events"
                )
            sign = sign * t.sign
        return sign

    def cdf(self, value: torch.Tensor) -> torch.Tensor:
        sign = self._monotone_cdf_transforms()
        for t in reversed(self.transforms):
            value = t.inv(value)
        result = self.base_dist.cdf(value)
        return result if _is_positive(sign) else 1 - result

    def icdf(self, value: torch.Tensor) -> torch.Tensor:
        sign = self._monotone_cdf_transforms()
        value = value if _is_positive(sign) else 1 - value
        x = self.base_dist.icdf(value)
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        names = ", ".join(type(t).__name__ for t in self.transforms)
        return f"TransformedDistribution({self.base_dist!r}, [{names}])"


def _is_positive(sign: int | torch.Tensor) -> bool:
    if isinstance(sign, torch.Tensor):
        if not bool((sign == sign.flatten()[0]).all()):
            raise NotImplementedError(
                "TransformedDistribution.cdf: the transform's monotonicity varies across the "
                "batch, so the cdf has no single orientation"
            )
        return bool(sign.flatten()[0] > 0)
    return sign > 0


def _as_transform_list(transforms: Transform | Sequence[Transform]) -> list[Transform]:
    if isinstance(transforms, Transform):
        return [transforms]
    if not isinstance(transforms, (list, tuple)):
        raise ValueError(
            f"TransformedDistribution: transforms must be a Transform or a list of them, "
            f"got {type(transforms).__name__}"
        )
    for i, t in enumerate(transforms):
        if not isinstance(t, Transform):
            raise ValueError(
                f"TransformedDistribution: transforms[{i}] is a {type(t).__name__}, not a Transform"
            )
    return list(transforms)
