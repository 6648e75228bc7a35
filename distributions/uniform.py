"""``Uniform``: constant density on a half-open interval ``[low, high)``."""

import math

import torch

from distributions import constraints
from distributions.distribution import Distribution
from distributions.utils import broadcast_all, uniform_draws

__all__ = ["Uniform"]


class Uniform(Distribution):
    """Density ``1 / (high - low)`` on ``[low, high)``; ``-inf`` outside (validation off).

    Args:
        low: lower bound (inclusive).
        high: upper bound (exclusive), greater than ``low``.
        validate_args: see :class:`Distribution`.

    Example:
        >>> Uniform(0.0, 4.0).cdf(torch.tensor(1.0)).item()
        0.25
    """

    arg_constraints = {
        "low": constraints.dependent(is_discrete=False, event_dim=0),
        "high": constraints.dependent(is_discrete=False, event_dim=0),
    }
    has_rsample = True

    def __init__(self, low, high, validate_args=None):
        self.low, self.high = broadcast_all(low, high)
        super().__init__(self.low.shape, validate_args=validate_args)
        if self._validate_args and not bool((self.low < self.high).all()):
            raise ValueError(
                "Uniform: argument 'low' must be less than 'high' everywhere, got low "
                f"{self.low.tolist()} and high {self.high.tolist()}; swap or widen the bounds"
            )

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Uniform, batch_shape, _instance, ("low", "high"))

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.interval(self.low, self.high)

    @property
    def mean(self):
        return (self.high + self.low) / 2

    @property
    def mode(self):
        return torch.full(self._extended_shape(), math.nan, dtype=self.low.dtype)

    @property
    def stddev(self):
        return (self.high - self.low) / 12**0.5

    @property
    def variance(self):
        return (self.high - self.low).pow(2) / 12

    def rsample(self, sample_shape=torch.Size()):
        u = uniform_draws(self.low, self._extended_shape(sample_shape))
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        inside = (value >= self.low) & (value < self.high)
        lp = -(self.high - self.low).log()
        return torch.where(inside, lp, torch.full_like(lp, -math.inf))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.low) / (self.high - self.low)).clamp(0, 1)

    def icdf(self, value):
        return self.low + value * (self.high - self.low)

    def entropy(self):
        return (self.high - self.low).log()
