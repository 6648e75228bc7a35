"""``Geometric``: the number of failures before the first success."""

import math

import torch
import torch.nn.functional as F

from distributions import constraints
from distributions.binary_params import BinaryParams
from distributions.counts import integer_quantile
from distributions.distribution import Distribution
from distributions.utils import (
    broadcast_all,
    broadcast_shape,
    probs_or_logits,
    safe_xlogy,
    uniform_draws,
)

__all__ = ["Geometric"]


class Geometric(BinaryParams, Distribution):
    """Pmf ``(1 - p)^k p`` for ``k = 0, 1, ...`` failures before the first success.

    Args:
        probs: success probability per trial, in ``(0, 1]``.
        logits: log-odds of success.
        validate_args: see :class:`Distribution`.

    Raises:
        ValueError: unless exactly one of ``probs`` and ``logits`` is given.

    Example:
        >>> round(Geometric(torch.tensor(0.5)).cdf(torch.tensor(1.0)).item(), 2)
        0.75
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        probs_or_logits("Geometric", probs, logits)
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
            param = self.probs
        else:
            (self.logits,) = broadcast_all(logits)
            param = self.logits
        super().__init__(param.shape, validate_args=validate_args)
        if self._validate_args and probs is not None and not bool((self.probs > 0).all()):
            raise ValueError(
                "Geometric: argument 'probs' must be > 0 (with probs = 0 no success ever "
                "happens and the count is infinite)"
            )

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Geometric, batch_shape, _instance, ("probs", "logits"))

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return torch.zeros_like(self.probs)

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        tiny = torch.finfo(self.probs.dtype).tiny
        with torch.no_grad():
            u = uniform_draws(self.probs, shape).clamp(min=tiny)
            return (u.log() / torch.log1p(-self.probs)).floor()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        if "probs" in self.__dict__ and "logits" not in self.__dict__:
            # k = 0 failures at p = 1 scores log 1 = 0, not nan, with a finite gradient.
            return safe_xlogy(value, 1 - self.probs) + self.probs.log()
        # -k log(1 - p) with k = 0 is 0 even at logits = +inf (0 * inf would be NaN).
        failures = torch.where(value == 0, 0.0, value * F.softplus(self.logits))
        return -failures - F.softplus(-self.logits)

    def entropy(self):
        return (
            F.binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")
            / self.probs
        )

    def cdf(self, value):
        """``P(X <= value) = 1 - (1 - p)^(floor(value) + 1)``, 0 below 0."""
        k = value.floor()
        out = -torch.expm1((k + 1) * torch.log1p(-self.probs))
        return out.masked_fill(k < 0, 0.0)

    def icdf(self, value):
        """The smallest ``k`` with ``cdf(k) >= value``, checked against :meth:`cdf` itself.

        The closed form ``ceil(log(1 - u) / log(1 - p) - 1)`` (in float64) can
        land a step or, where float32 rounds the cdf flat, a few steps away from
        that ``k`` where ``u`` is exactly a value of the cdf; it is the start of
        an integer search on the cdf as returned (see
        :mod:`distributions.counts`), so ``icdf(cdf(k)) == k``.

        Example:
            >>> d = Geometric(torch.tensor(0.3))
            >>> k = torch.tensor([0.0, 1.0, 2.0, 5.0])
            >>> torch.equal(d.icdf(d.cdf(k)), k)
            True
        """
        dtype = self.probs.dtype
        q = torch.as_tensor(value, dtype=dtype, device=self.probs.device)
        q = q.expand(broadcast_shape(q.shape, self.batch_shape))
        inner = torch.where((q <= 0) | (q >= 1), 0.5, q)
        ratio = torch.log1p(-inner.double()) / torch.log1p(-self.probs.double())
        guess = torch.ceil(ratio - 1).clamp(min=0).nan_to_num(0.0, 0.0, 0.0).expand(q.shape)
        k = integer_quantile(self._reaches, inner, guess, torch.ones_like(guess)).to(dtype)
        k = k.masked_fill(q <= 0, 0.0)
        return k.masked_fill(q >= 1, math.inf)

    def _reaches(self, k, q):
        return (k >= 0) & (self.cdf(k.to(q.dtype)) >= q)
