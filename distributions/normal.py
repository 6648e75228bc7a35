"""``Normal``: the Gaussian distribution parameterized by location and scale."""

import math

import torch

from distributions import constraints
from distributions.exp_family import ExponentialFamily
from distributions.number_minus import KeptNumber, number_minus
from distributions.utils import broadcast_all, normal_draws

__all__ = ["Normal"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_MINUS_HALF_LOG_2PI = KeptNumber(-_HALF_LOG_2PI)


class Normal(ExponentialFamily):
    """The normal distribution ``N(loc, scale^2)``.

    Args:
        loc: mean.
        scale: standard deviation, positive.
        validate_args: see :class:`Distribution`.

    Example:
        >>> d = Normal(torch.tensor(0.0), torch.tensor(1.0))
        >>> round(d.log_prob(torch.tensor(0.0)).item(), 4)
        -0.9189
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Normal, batch_shape, _instance, ("loc", "scale"))

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale.pow(2)

    def rsample(self, sample_shape=torch.Size()):
        eps = normal_draws(self.loc, self._extended_shape(sample_shape))
        return self.loc + eps * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        # log(scale) + z^2 / 2 in one fused addcmul: fewer passes over memory than
        # the textbook expression, which matters for large batches. The constant
        # is subtracted as a kept 0-dim tensor: no number wrapped per call.
        return number_minus(_MINUS_HALF_LOG_2PI, torch.addcmul(self.scale.log(), z, z, value=0.5))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 * torch.special.erfc((self.loc - value) / (self.scale * math.sqrt(2)))

    def icdf(self, value):
        return self.loc + self.scale * torch.special.ndtri(value)

    def entropy(self):
        return 0.5 + _HALF_LOG_2PI + self.scale.log()

    @property
    def _natural_params(self):
        return (self.loc / self.scale.pow(2), -0.5 * self.scale.pow(2).reciprocal())

    def _log_normalizer(self, x, y):
        return -0.25 * x.pow(2) / y + 0.5 * torch.log(-math.pi / y)
