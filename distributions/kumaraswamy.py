"""``Kumaraswamy``: a Beta-like law on (0, 1) with a closed-form cdf."""

import math

import torch

from distributions import constraints
from distributions.distribution import Distribution
from distributions.open_support import clamp_to_support
from distributions.utils import broadcast_all, euler_constant, uniform_draws

__all__ = ["Kumaraswamy"]


def _log_beta(x, y):
    return torch.lgamma(x) + torch.lgamma(y) - torch.lgamma(x + y)


def _log_one_minus_pow(x, a):
    """``log(1 - x^a)`` for ``x`` in ``[0, 1]``, with ``t = a log x`` (Maechler 2012, log1mexp).

    ``log1p(-e^t)`` where ``x^a`` is small; ``log(-expm1(t))`` where ``x^a`` is
    near 1, as for tiny ``a`` (there ``x^a`` rounds to 1 and ``1 - x^a`` to 0).
    """
    t = a * x.log()
    near_one = t > -math.log(2)
    safe_t = torch.where(near_one, t, -torch.ones_like(t))
    return torch.where(near_one, torch.log(-torch.expm1(safe_t)), torch.log1p(-t.exp()))


class Kumaraswamy(Distribution):
    """Density ``a b x^(a-1) (1 - x^a)^(b-1)`` on ``(0, 1)`` (Kumaraswamy 1980).

    Its cdf ``1 - (1 - x^a)^b`` inverts in closed form, so sampling is
    reparameterized through the inverse cdf of a uniform draw.

    Args:
        concentration1: ``a``, positive.
        concentration0: ``b``, positive.
        validate_args: see :class:`Distribution`.

    Example:
        >>> round(Kumaraswamy(1.0, 1.0).mean.item(), 4)
        0.5
    """

    arg_constraints = {
        "concentration1": constraints.positive,
        "concentration0": constraints.positive,
    }
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        super().__init__(self.concentration1.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        names = ("concentration1", "concentration0")
        return self._expand_params(Kumaraswamy, batch_shape, _instance, names)

    def _moment(self, n):
        a, b = self.concentration1, self.concentration0
        return b * torch.exp(_log_beta(1 + n / a, b))

    @property
    def mean(self):
        return self._moment(1)

    @property
    def mode(self):
        a, b = self.concentration1, self.concentration0
        mode = ((a - 1) / (a * b - 1)).pow(a.reciprocal())
        return mode.masked_fill((a < 1) | (b < 1), math.nan)

    @property
    def variance(self):
        return self._moment(2) - self._moment(1).pow(2)

    def rsample(self, sample_shape=torch.Size()):
        finfo = torch.finfo(self.concentration1.dtype)
        u = uniform_draws(self.concentration1, self._extended_shape(sample_shape))
        u = u.clamp(min=finfo.tiny, max=1 - finfo.eps)
        # Extreme concentrations round the quantile to exactly 0 or 1.
        return clamp_to_support(self.icdf(u), 0.0, 1.0, open_low=True, open_high=True)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration1, self.concentration0
        log_rest = _log_one_minus_pow(value, a)
        tail = torch.where(b == 1, torch.zeros_like(log_rest), (b - 1) * log_rest)
        return a.log() + b.log() + torch.xlogy(a - 1, value) + tail

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration1, self.concentration0
        return -torch.expm1(b * _log_one_minus_pow(value.clamp(0, 1), a))

    def icdf(self, value):
        a, b = self.concentration1, self.concentration0
        return (-torch.expm1(torch.log1p(-value) / b)).pow(a.reciprocal())

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        harmonic_b = torch.digamma(b + 1) + euler_constant
        return (1 - b.reciprocal()) + (1 - a.reciprocal()) * harmonic_b - (a * b).log()
