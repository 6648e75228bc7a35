"""``Weibull``: lifetimes with a power-law hazard."""

import math

import torch

from distributions import constraints
from distributions.distribution import Distribution
from distributions.utils import broadcast_all, euler_constant, uniform_draws

__all__ = ["Weibull"]


class Weibull(Distribution):
    """Density ``(k / s) (x / s)^(k-1) exp(-(x / s)^k)`` on ``x >= 0``.

    Args:
        scale: the scale ``s``, positive.
        concentration: the shape ``k``, positive.
        validate_args: see :class:`Distribution`.

    Example:
        >>> Weibull(2.0, 1.0).mean.item()
        2.0
    """

    arg_constraints = {"scale": constraints.positive, "concentration": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, scale, concentration, validate_args=None):
        self.scale, self.concentration = broadcast_all(scale, concentration)
        super().__init__(self.scale.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        names = ("scale", "concentration")
        return self._expand_params(Weibull, batch_shape, _instance, names)

    @property
    def mean(self):
        return self.scale * torch.exp(torch.lgamma(1 + self.concentration.reciprocal()))

    @property
    def mode(self):
        k = self.concentration
        return self.scale * ((k - 1) / k).clamp(min=0).pow(k.reciprocal())

    @property
    def variance(self):
        inv = self.concentration.reciprocal()
        second = torch.exp(torch.lgamma(1 + 2 * inv))
        first = torch.exp(torch.lgamma(1 + inv))
        return self.scale.pow(2) * (second - first.pow(2))

    def rsample(self, sample_shape=torch.Size()):
        u = uniform_draws(self.scale, self._extended_shape(sample_shape))
        return self.scale * (-torch.log1p(-u)).pow(self.concentration.reciprocal())

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        k, s = self.concentration, self.scale
        z = value / s
        lp = k.log() - s.log() + torch.xlogy(k - 1, z) - z.pow(k)
        return lp.masked_fill(value < 0, -math.inf)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -torch.expm1(-(value.clamp(min=0) / self.scale).pow(self.concentration))

    def icdf(self, value):
        return self.scale * (-torch.log1p(-value)).pow(self.concentration.reciprocal())

    def entropy(self):
        k = self.concentration
        return euler_constant * (1 - k.reciprocal()) + (self.scale / k).log() + 1
