"""``Poisson``: counts of events at a given rate."""

import torch

from distributions import constraints
from distributions.exp_family import ExponentialFamily
from distributions.utils import broadcast_all

__all__ = ["Poisson"]


class Poisson(ExponentialFamily):
    """Pmf ``rate^k exp(-rate) / k!`` for ``k = 0, 1, ...``.

    Sampling uses ``torch.poisson`` (rejection for large rates, so the cost
    does not grow with the rate). ``rate = 0`` puts all mass at 0 exactly.

    Args:
        rate: non-negative rate.
        validate_args: see :class:`Distribution`.

    Example:
        >>> Poisson(torch.tensor(0.0)).log_prob(torch.tensor(0.0)).item()
        0.0
    """

    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(self.rate.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Poisson, batch_shape, _instance, ("rate",))

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return self.rate.floor()

    @property
    def variance(self):
        return self.rate

    def sample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        with torch.no_grad():
            return torch.poisson(self.rate.expand(shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return torch.xlogy(value, self.rate) - self.rate - torch.lgamma(value + 1)

    def cdf(self, value):
        """``P(X <= value)`` through the regularized upper incomplete gamma function."""
        k = value.floor()
        out = torch.special.gammaincc(k.clamp(min=0) + 1, self.rate)
        return torch.where(k < 0, torch.zeros_like(out), out)

    @property
    def _natural_params(self):
        return (torch.log(self.rate),)

    def _log_normalizer(self, x):
        return torch.exp(x)
