"""``Weibull``: lifetimes with a power-law hazard."""

import math

import torch

from distributions import constraints
from distributions.distribution import Distribution
from distributions.open_support import clamp_to_support
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
        # scale * E^(1/k) for a standard exponential E, formed in log space: the
        # power alone overflows for tiny k where the product need not.
        log_e = torch.log(-torch.log1p(-u))
        x = torch.exp(self.scale.log() + log_e / self.concentration)
        return clamp_to_support(x, 0.0, open_low=True)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        k, s = self.concentration, self.scale
        # In log z, so value / s may exceed the float range (a tiny scale).
        log_z = value.log() - s.log()
        power = torch.where(k == 1, torch.zeros_like(log_z), (k - 1) * log_z)
        lp = k.log() - s.log() + power - torch.exp(k * log_z)
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
