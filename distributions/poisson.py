"""``Poisson``: counts of events at a given rate."""

import math

import torch

from distributions import constraints
from distributions.counts import (
    count_entropy,
    count_icdf,
    edgeworth_entropy,
    near_normal,
    poisson_draws,
)
from distributions.exp_family import ExponentialFamily
from distributions.utils import broadcast_all, promote_float, safe_xlogy

__all__ = ["Poisson"]


class Poisson(ExponentialFamily):
    """Pmf ``rate^k exp(-rate) / k!`` for ``k = 0, 1, ...``.

    Sampling uses ``torch.poisson`` (rejection for large rates, so the cost
    does not grow with the rate) up to a rate of 1e16, and a Cornish-Fisher
    normal expansion above, where torch's int64 counts overflow (see
    :func:`distributions.counts.poisson_draws`). ``rate = 0`` puts all mass at
    0 exactly.

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
        # Integer rates are promoted to the default float dtype, as every statistic is real.
        (self.rate,) = broadcast_all(promote_float(rate))
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
            return poisson_draws(self.rate.expand(shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return safe_xlogy(value, self.rate) - self.rate - torch.lgamma(value + 1)

    def cdf(self, value):
        """``P(X <= value)`` through the regularized upper incomplete gamma function."""
        k = value.floor()
        out = self._cdf64(k).to(torch.promote_types(value.dtype, self.rate.dtype))
        return torch.where(k < 0, torch.zeros_like(out), out)

    def _cdf64(self, k):
        # float64 whatever the dtype, so icdf can count past float32's 2^24.
        return torch.special.gammaincc(k.double().clamp(min=0) + 1, self.rate.double())

    def icdf(self, value):
        """The smallest integer ``k`` with ``cdf(k) >= value`` (torch has none).

        A normal-approximation guess, then an integer search on the cdf (see
        :mod:`distributions.counts`); ``inf`` at ``value = 1`` unless ``rate = 0``.

        Example:
            >>> d = Poisson(torch.tensor([0.5, 40.0]))
            >>> k = torch.tensor([1.0, 45.0])
            >>> torch.equal(d.icdf(d.cdf(k)), k)
            True
        """
        top = torch.where(self.rate == 0, 0.0, math.inf)
        return count_icdf(self, value, self.rate.dtype, self._reaches, top)

    def _reaches(self, k, q):
        return (k >= 0) & (self._cdf64(k).to(q.dtype) >= q)

    def entropy(self):
        """``-sum_k pmf(k) log pmf(k)`` (torch has none), in time that does not grow with the rate.

        Below a rate of 1e4 the sum runs until its tail is negligible (the pmf
        ratio is ``rate / (k + 1)``; about ``rate + 40 sqrt(rate)`` terms); from
        1e4 on the Edgeworth expansion answers (error below 1e-12, see
        :func:`distributions.counts.edgeworth_entropy`).

        Example:
            >>> round(Poisson(torch.tensor(2.0)).entropy().item(), 4)
            1.7049
            >>> round(Poisson(torch.tensor(7e28)).entropy().item(), 4)
            34.6281
        """
        rate = self.rate.double()
        wide = near_normal(rate, rate.rsqrt())
        short = torch.where(wide, 1.0, rate)  # the sum never sees a wide element
        lam = Poisson(short, validate_args=False)
        h = count_entropy(lam.log_prob, lambda k: short / (k + 1), lam.mode, self.batch_shape)
        if bool(wide.any()):
            big = torch.where(wide, rate, 1e4)
            h = torch.where(wide, edgeworth_entropy(big, big.rsqrt(), 1 / big), h)
        return h.to(self.rate.dtype)

    @property
    def _natural_params(self):
        return (torch.log(self.rate),)

    def _log_normalizer(self, x):
        return torch.exp(x)
