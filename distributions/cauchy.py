"""``Cauchy``: the Lorentz distribution, a Student-t with one degree of freedom."""

import math

import torch

from distributions import constraints
from distributions.distribution import Distribution
from distributions.utils import broadcast_all, uniform_draws

__all__ = ["Cauchy"]


class Cauchy(Distribution):
    """Density ``1 / (pi * scale * (1 + ((x - loc) / scale)^2))``; no mean or variance.

    Args:
        loc: the median.
        scale: the half width at half maximum, positive.
        validate_args: see :class:`Distribution`.

    Example:
        >>> round(Cauchy(0.0, 1.0).cdf(torch.tensor(1.0)).item(), 4)
        0.75
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Cauchy, batch_shape, _instance, ("loc", "scale"))

    @property
    def mean(self):
        return torch.full(self._extended_shape(), float("nan"), dtype=self.loc.dtype)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return torch.full(self._extended_shape(), float("inf"), dtype=self.loc.dtype)

    def rsample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        # Out-of-place uniforms (not .cauchy_()) so torch.vmap can batch the randomness.
        u = uniform_draws(self.loc, shape)
        return self.loc + torch.tan(math.pi * (u - 0.5)) * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        return -math.log(math.pi) - self.scale.log() - torch.log1p(z * z)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return torch.atan((value - self.loc) / self.scale) / math.pi + 0.5

    def icdf(self, value):
        return torch.tan(math.pi * (value - 0.5)) * self.scale + self.loc

    def entropy(self):
        return math.log(4 * math.pi) + self.scale.log()
