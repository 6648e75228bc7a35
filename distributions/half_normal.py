"""``HalfNormal``: the absolute value of a zero-centred normal variable."""

import math

import torch

from distributions import constraints
from distributions.distribution import Distribution
from distributions.utils import broadcast_all, normal_draws

__all__ = ["HalfNormal"]

_LOG_SQRT_2_OVER_PI = 0.5 * math.log(2 / math.pi)


class HalfNormal(Distribution):
    """Density ``sqrt(2/pi) / scale * exp(-x^2 / (2 scale^2))`` on ``x >= 0``.

    Args:
        scale: the scale of the underlying normal, positive.
        validate_args: see :class:`Distribution`.

    Example:
        >>> round(HalfNormal(1.0).mean.item(), 4)
        0.7979
    """

    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, scale, validate_args=None):
        (self.scale,) = broadcast_all(scale)
        super().__init__(self.scale.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(HalfNormal, batch_shape, _instance, ("scale",))

    @property
    def mean(self):
        return self.scale * math.sqrt(2 / math.pi)

    @property
    def mode(self):
        return torch.zeros_like(self.scale)

    @property
    def variance(self):
        return self.scale.pow(2) * (1 - 2 / math.pi)

    def rsample(self, sample_shape=torch.Size()):
        eps = normal_draws(self.scale, self._extended_shape(sample_shape))
        return eps.abs() * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = value / self.scale
        lp = torch.addcmul(self.scale.log(), z, z, value=0.5)
        return (_LOG_SQRT_2_OVER_PI - lp).masked_fill(value < 0, -math.inf)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return torch.erf(value.clamp(min=0) / (self.scale * math.sqrt(2)))

    def icdf(self, prob):
        return torch.special.ndtri((prob + 1) / 2) * self.scale

    def entropy(self):
        return 0.5 * math.log(math.pi / 2) + 0.5 + self.scale.log()
