"""``HalfCauchy``: the absolute value of a zero-centred Cauchy variable."""

import math

import torch

from distributions import constraints
from distributions.distribution import Distribution
from distributions.utils import broadcast_all, uniform_draws

__all__ = ["HalfCauchy"]


class HalfCauchy(Distribution):
    """Density ``2 / (pi * scale * (1 + (x / scale)^2))`` on ``x >= 0``.

    A common weakly informative prior for scale parameters (Gelman 2006,
    "Prior distributions for variance parameters in hierarchical models").
    Scores ``-inf`` below 0 when validation is off.

    Args:
        scale: positive scale.
        validate_args: see :class:`Distribution`.

    Example:
        >>> round(HalfCauchy(1.0).cdf(torch.tensor(1.0)).item(), 4)
        0.5
    """

    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, scale, validate_args=None):
        (self.scale,) = broadcast_all(scale)
        super().__init__(self.scale.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(HalfCauchy, batch_shape, _instance, ("scale",))

    @property
    def mean(self):
        return torch.full(self._extended_shape(), math.inf, dtype=self.scale.dtype)

    @property
    def mode(self):
        return torch.zeros_like(self.scale)

    @property
    def variance(self):
        return torch.full(self._extended_shape(), math.inf, dtype=self.scale.dtype)

    def rsample(self, sample_shape=torch.Size()):
        # tan of a uniform angle in [0, pi/2): out-of-place, so torch.vmap can batch it.
        u = uniform_draws(self.scale, self._extended_shape(sample_shape))
        return torch.tan(u * (math.pi / 2)) * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = value / self.scale
        lp = math.log(2 / math.pi) - self.scale.log() - torch.log1p(z * z)
        return lp.masked_fill(value < 0, -math.inf)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (2 / math.pi) * torch.atan(value.clamp(min=0) / self.scale)

    def icdf(self, prob):
        return torch.tan(prob * (math.pi / 2)) * self.scale

    def entropy(self):
        return math.log(2 * math.pi) + self.scale.log()
