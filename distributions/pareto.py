"""``Pareto``: the power-law (type I Pareto) distribution."""

import math

import torch

from distributions import constraints
from distributions.distribution import Distribution
from distributions.open_support import clamp_to_support
from distributions.utils import broadcast_all, uniform_draws

__all__ = ["Pareto"]


class Pareto(Distribution):
    """Density ``alpha * scale^alpha / x^(alpha + 1)`` on ``x >= scale``.

    Args:
        scale: the minimum value, positive.
        alpha: the tail index, positive.
        validate_args: see :class:`Distribution`.

    Example:
        >>> Pareto(1.0, 2.0).mean.item()
        2.0
    """

    arg_constraints = {"scale": constraints.positive, "alpha": constraints.positive}
    has_rsample = True

    def __init__(self, scale, alpha, validate_args=None):
        self.scale, self.alpha = broadcast_all(scale, alpha)
        super().__init__(self.scale.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Pareto, batch_shape, _instance, ("scale", "alpha"))

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.greater_than_eq(self.scale)

    @property
    def mean(self):
        a = self.alpha.clamp(min=1)
        return (a * self.scale / (a - 1)).masked_fill(self.alpha <= 1, math.inf)

    @property
    def mode(self):
        return self.scale

    @property
    def variance(self):
        a = self.alpha.clamp(min=2)
        var = self.scale.pow(2) * a / ((a - 1).pow(2) * (a - 2))
        return var.masked_fill(self.alpha <= 2, math.inf)

    def rsample(self, sample_shape=torch.Size()):
        u = uniform_draws(self.scale, self._extended_shape(sample_shape))
        # A tiny alpha sends exp(E / alpha) past the float range: keep the draw finite.
        return clamp_to_support(self.scale * torch.exp(-torch.log1p(-u) / self.alpha), self.scale)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        lp = self.alpha.log() + self.alpha * self.scale.log() - (self.alpha + 1) * value.log()
        return lp.masked_fill(value < self.scale, -math.inf)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        # log(value / scale) as log1p of the excess, exact near the scale where
        # log(value) - log(scale) cancels (a large alpha magnifies that error).
        excess = ((value - self.scale) / self.scale).clamp(min=0)
        return -torch.expm1(-self.alpha * torch.log1p(excess))

    def icdf(self, value):
        return self.scale * torch.exp(-torch.log1p(-value) / self.alpha)

    def entropy(self):
        return (self.scale / self.alpha).log() + (1 + self.alpha.reciprocal())
