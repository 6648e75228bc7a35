"""``Gumbel``: the type-I extreme value distribution."""

import math

import torch

from distributions import constraints
from distributions.distribution import Distribution
from distributions.utils import broadcast_all, euler_constant, uniform_draws

__all__ = ["Gumbel"]


class Gumbel(Distribution):
    """Density ``exp(-(z + exp(-z))) / scale`` with ``z = (x - loc) / scale``.

    Args:
        loc: location (the mode).
        scale: positive scale.
        validate_args: see :class:`Distribution`.

    Example:
        >>> round(Gumbel(0.0, 1.0).cdf(torch.tensor(0.0)).item(), 4)
        0.3679
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Gumbel, batch_shape, _instance, ("loc", "scale"))

    @property
    def mean(self):
        return self.loc + self.scale * euler_constant

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return (math.pi / math.sqrt(6)) * self.scale

    @property
    def variance(self):
        return self.stddev.pow(2)

    def rsample(self, sample_shape=torch.Size()):
        finfo = torch.finfo(self.loc.dtype)
        u = uniform_draws(self.loc, self._extended_shape(sample_shape))
        u = u.clamp(min=finfo.tiny, max=1 - finfo.eps)
        return self.loc - self.scale * torch.log(-torch.log(u))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        return -(z + torch.exp(-z)) - self.scale.log()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return torch.exp(-torch.exp(-(value - self.loc) / self.scale))

    def icdf(self, value):
        return self.loc - self.scale * torch.log(-torch.log(value))

    def entropy(self):
        return self.scale.log() + (1 + euler_constant)
