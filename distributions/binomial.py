"""``Binomial``: the number of successes in ``total_count`` independent trials."""

import math

import torch
import torch.nn.functional as F

from distributions import constraints
from distributions.binary_params import BinaryParams
from distributions.counts import count_entropy, count_icdf, edgeworth_entropy, near_normal
from distributions.distribution import Distribution
from distributions.special import betainc
from distributions.utils import broadcast_all, probs_or_logits, safe_xlogy

__all__ = ["Binomial"]


class Binomial(BinaryParams, Distribution):
    """Successes in ``total_count`` trials of probability ``probs`` (or ``sigmoid(logits)``).

    ``total_count`` may be an int or a tensor (inhomogeneous counts). Sampling
    uses ``torch.binomial`` (Kachitvichyanukul & Schmeiser 1988, BTPE-style
    rejection), whose cost does not grow with the count. Built from ``probs``,
    impossible outcomes score exactly ``-inf``.

    Args:
        total_count: number of trials, non-negative.
        probs: success probability per trial.
        logits: log-odds of success per trial.
        validate_args: see :class:`Distribution`.

    Raises:
        ValueError: unless exactly one of ``probs`` and ``logits`` is given.

    Example:
        >>> Binomial(10, torch.tensor(0.5)).mean.item()
        5.0
    """

    arg_constraints = {
        "total_count": constraints.nonnegative_integer,
        "probs": constraints.unit_interval,
        "logits": constraints.real,
    }
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        probs_or_logits("Binomial", probs, logits)
        if probs is not None:
            self.total_count, self.probs = broadcast_all(total_count, probs)
            self.total_count = self.total_count.type_as(self.probs)
            param = self.probs
        else:
            self.total_count, self.logits = broadcast_all(total_count, logits)
            self.total_count = self.total_count.type_as(self.logits)
            param = self.logits
        self._param = param
        super().__init__(param.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Binomial, _instance)
        batch_shape = torch.Size(batch_shape)
        new.total_count = self.total_count.expand(batch_shape)
        for name in ("probs", "logits"):
            if name in self.__dict__:
                setattr(new, name, getattr(self, name).expand(batch_shape))
                new._param = getattr(new, name)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        with torch.no_grad():
            return torch.binomial(self.total_count.expand(shape), self.probs.expand(shape))

    def _log_binomial_coefficient(self, value):
        n = self.total_count
        return torch.lgamma(n + 1) - torch.lgamma(value + 1) - torch.lgamma(n - value + 1)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        log_coef = self._log_binomial_coefficient(value)
        if "probs" in self.__dict__ and "logits" not in self.__dict__:
            p = self.probs
            return log_coef + safe_xlogy(value, p) + safe_xlogy(self.total_count - value, 1 - p)
        # x * logits - n * log(1 + e^logits), written with softplus for stability.
        return log_coef + value * self.logits - self.total_count * F.softplus(self.logits)

    def entropy(self):
        """``-sum_k pmf(k) log pmf(k)`` over ``0..total_count``, per element (counts may differ).

        Computed for ``min(p, 1 - p)`` (the entropy is symmetric in ``p``), so the
        sum starts near the mass; where the variance ``n p (1 - p)`` reaches 1e4
        the Edgeworth expansion answers instead (see
        :func:`distributions.counts.edgeworth_entropy`), so the cost does not grow
        with ``total_count``.

        Example:
            >>> round(Binomial(torch.tensor([1.0, 4.0]), torch.tensor(0.5)).entropy()[0].item(), 4)
            0.6931
        """
        n = self.total_count.double().expand(self.batch_shape)
        p = self.probs.double().expand(self.batch_shape)
        p = torch.minimum(p, 1 - p)
        q = 1 - p
        var = n * p * q
        wide = near_normal(var, (q - p) / var.sqrt())
        n_s, p_s = torch.where(wide, 1.0, n), torch.where(wide, 0.5, p)
        d = Binomial(n_s, p_s, validate_args=False)
        odds = p_s / (1 - p_s)
        ratio = lambda k: ((n_s - k) / (k + 1) * odds).clamp(min=0)  # noqa: E731
        h = count_entropy(d._log_prob_unchecked, ratio, d.mode, self.batch_shape)
        if bool(wide.any()):
            v = torch.where(wide, var, 1e4)
            p_w = torch.where(wide, p, 0.5)
            edge = edgeworth_entropy(v, (1 - 2 * p_w) / v.sqrt(), (1 - 6 * p_w * (1 - p_w)) / v)
            h = torch.where(wide, edge, h)
        return h.to(self._param.dtype)

    def cdf(self, value):
        """``P(X <= value) = I_{1-p}(n - k, k + 1)`` for ``k = floor(value)`` in ``0..n - 1``.

        The regularized incomplete beta function (Abramowitz & Stegun 1964,
        26.5.24), so the cost per element does not grow with ``total_count``;
        0 below 0 and 1 from ``n`` on.

        Example:
            >>> d = Binomial(10, torch.tensor(0.5))
            >>> round(d.cdf(torch.tensor(4.0)).item(), 6)  # 386 / 1024
            0.376953
        """
        value = torch.as_tensor(value, dtype=self._param.dtype, device=self._param.device)
        k = value.floor()
        out = self._cdf64(k).to(torch.promote_types(value.dtype, self._param.dtype))
        return torch.where(k < 0, torch.zeros_like(out), out)

    def _cdf64(self, k):
        """The cdf in float64 at float64 integers ``k`` (negative ``k`` read as 0).

        ``p`` and ``1 - p`` are both passed to ``betainc`` (from ``sigmoid`` of
        both signs when built from logits), so neither loses digits to ``1 - p``.
        """
        if "probs" in self.__dict__ and "logits" not in self.__dict__:
            success = self.probs.double()
            failure = 1 - success
        else:
            logits = self.logits.double()
            failure, success = torch.sigmoid(-logits), torch.sigmoid(logits)
        n = self.total_count.double()
        k = k.double().clamp(min=0)
        below = k < n
        # Where k >= n the answer is 1; the beta arguments there are made valid.
        a = torch.where(below, n - k, 1.0)
        i = betainc(a, k + 1, failure, success)
        return torch.where(below, i, torch.ones_like(i))

    def icdf(self, value):
        """The smallest integer ``k`` with ``cdf(k) >= value`` (torch has none).

        An integer search on the cdf rounded to the dtype, as :meth:`cdf` returns it
        (see :mod:`distributions.counts`), so ``icdf(cdf(k)) == k`` exactly;
        ``total_count`` at ``value = 1``.

        Example:
            >>> d = Binomial(torch.tensor([5.0, 40.0]), torch.tensor(0.3))
            >>> k = torch.tensor([1.0, 15.0])
            >>> torch.equal(d.icdf(d.cdf(k)), k)
            True
        """
        dtype = self._param.dtype
        return count_icdf(self, value, dtype, self._reaches, self.total_count.to(dtype))

    def _reaches(self, k, q):
        return (k >= 0) & (self._cdf64(k).to(q.dtype) >= q)

    def _log_prob_unchecked(self, value):
        """``log_prob`` without validation, ``-inf`` outside ``0..total_count``."""
        inside = (value >= 0) & (value <= self.total_count)
        safe = value.clamp(min=0)
        safe = torch.minimum(safe, self.total_count)
        log_coef = self._log_binomial_coefficient(safe)
        lp = (
            log_coef
            + safe_xlogy(safe, self.probs)
            + safe_xlogy(self.total_count - safe, 1 - self.probs)
        )
        return lp.masked_fill(~inside, -math.inf)

    def enumerate_support(self, expand=True):
        n = int(self.total_count.max()) if self.total_count.numel() else 0
        if not bool((self.total_count == n).all()):
            raise NotImplementedError(
                "Binomial.enumerate_support needs one total_count across the batch"
            )
        values = torch.arange(n + 1, dtype=self._param.dtype)
        values = values.view((-1,) + (1,) * len(self.batch_shape))
        if expand:
            values = values.expand((-1,) + self.batch_shape)
        return values
