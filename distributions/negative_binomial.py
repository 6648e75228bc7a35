"""``NegativeBinomial``: successes before ``total_count`` failures, real counts allowed."""

import math
from numbers import Number

import torch
import torch.nn.functional as F

from distributions import constraints
from distributions.binary_params import BinaryParams
from distributions.counts import (
    count_entropy,
    count_icdf,
    edgeworth_entropy,
    near_normal,
    poisson_draws,
    smooth_tail_entropy,
)
from distributions.distribution import Distribution
from distributions.special import betainc, log_beta, log_standard_gamma
from distributions.utils import broadcast_all, broadcast_shape, probs_or_logits, safe_xlogy

__all__ = ["NegativeBinomial"]

# Beyond this many terms the entropy's sum gives way to a quadrature of its tail
# past the first _SUMMED_TERMS terms.
_MAX_ENTROPY_TERMS = 2**20
_SUMMED_TERMS = 2**12


class NegativeBinomial(BinaryParams, Distribution):
    """Pmf ``Gamma(r + k) / (Gamma(r) k!) p^k (1 - p)^r`` for ``k = 0, 1, ...``.

    As in torch, ``probs`` is the probability of a *success* and the count is
    of successes before ``total_count`` failures, so the mean is
    ``r p / (1 - p)``; ``scipy.stats.nbinom(r, 1 - p)`` is the same law.
    ``total_count`` may be any non-negative real (``r = 0`` puts all mass at 0).

    Sampling uses the Gamma-Poisson mixture ``k ~ Poisson(lambda)``,
    ``lambda ~ Gamma(r, rate=(1 - p) / p)`` (Greenwood & Yule 1920; Devroye
    1986, *Non-Uniform Random Variate Generation*, ch. X), so draws cost and
    store one gamma and one Poisson variate each, whatever the mean; it uses
    only plain tensor ops, so ``torch.vmap`` batches it. A draw too large for
    the dtype (a mean past about 3e38 in float32) saturates at its largest
    finite float: build such a law in float64.
    ``cdf`` is ``I_{1-p}(r, k + 1)`` (Abramowitz & Stegun 1964, 26.5.26), and
    ``icdf`` searches integers for the smallest ``k`` with ``cdf(k) >= q``.
    Built from ``probs``, impossible outcomes score exactly ``-inf``.

    Args:
        total_count: number of failures ``r``, non-negative (integer or not).
        probs: success probability per trial, in ``[0, 1)``.
        logits: log-odds of success per trial.
        validate_args: see :class:`Distribution`.

    Raises:
        ValueError: unless exactly one of ``probs`` and ``logits`` is given, or
            when ``total_count`` is not a number or tensor broadcastable with
            the probabilities.

    Example:
        >>> d = NegativeBinomial(5, probs=torch.tensor(0.5))
        >>> d.mean.item(), d.mode.item()
        (5.0, 4.0)
        >>> round(d.cdf(torch.tensor(4.0)).item(), 4)
        0.5
        >>> d.icdf(torch.tensor(0.5)).item()
        4.0
    """

    arg_constraints = {
        "total_count": constraints.greater_than_eq(0),
        "probs": constraints.half_open_interval(0.0, 1.0),
        "logits": constraints.real,
    }
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        probs_or_logits("NegativeBinomial", probs, logits)
        name, param = ("probs", probs) if probs is not None else ("logits", logits)
        _check_total_count(total_count, name, param)
        self.total_count, param = broadcast_all(total_count, param)
        self.total_count = self.total_count.type_as(param)
        setattr(self, name, param)
        self._param = param
        self._from_probs = probs is not None
        super().__init__(param.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._expand_params(
            NegativeBinomial, batch_shape, _instance, ("total_count", "probs", "logits")
        )
        new._from_probs = self._from_probs
        new._param = new.probs if self._from_probs else new.logits
        return new

    def _failure_prob(self):
        """``1 - p``, through ``sigmoid(-logits)`` when built from logits (no cancellation)."""
        return 1 - self.probs if self._from_probs else torch.sigmoid(-self.logits)

    def _odds(self):
        """``p / (1 - p)``, exactly 0 at ``p = 0`` when built from probs."""
        return self.probs / (1 - self.probs) if self._from_probs else self.logits.exp()

    def _log_odds(self):
        if self._from_probs:
            return torch.log(self.probs) - torch.log1p(-self.probs)
        return self.logits

    @property
    def mean(self):
        return self.total_count * self._odds()

    @property
    def mode(self):
        # As torch: floor((r - 1) p / (1 - p)), and 0 when r <= 1.
        return ((self.total_count - 1) * self._odds()).floor().clamp(min=0.0)

    @property
    def variance(self):
        return self.mean / self._failure_prob()

    def sample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        with torch.no_grad():
            r = self.total_count.expand(shape)
            # lambda = G * p / (1 - p) with G ~ Gamma(r, 1), formed in log space so
            # that tiny r (draws below 1e-308) and p = 0 (log odds -inf) give 0.
            log_lam = log_standard_gamma(r) + self._log_odds()
            # In float64, so that a rate past float32's range still draws a count. A
            # count past the dtype's range saturates at its largest float (an
            # integer; inf is outside the support), with no data-dependent branch
            # that would stop torch.vmap.
            lam = log_lam.double().exp().masked_fill(r == 0, 0.0)
            x = poisson_draws(lam).clamp(max=torch.finfo(log_lam.dtype).max)
            return x.to(log_lam.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        r = self.total_count
        if self._from_probs:
            # safe_xlogy: k = 0 successes at p = 0 scores 0, k > 0 scores -inf exactly.
            log_powers = safe_xlogy(value, self.probs) + r * torch.log1p(-self.probs)
        else:
            log_powers = value * F.logsigmoid(self.logits) + r * F.logsigmoid(-self.logits)
        return log_powers + _log_coefficient(r, value)

    def entropy(self):
        """``-sum_k pmf(k) log pmf(k)`` (torch has none), in time bounded per element.

        Where the law is wide and nearly normal (variance at least 1e4, squared
        skewness ``(1 + p)^2 / (r p)`` at most 1e-4) the Edgeworth expansion
        answers (see :func:`distributions.counts.edgeworth_entropy`); elsewhere
        the sum runs until its tail is negligible (the pmf ratio past the mode is
        ``p (k + r) / (k + 1)``). Where that sum would pass 2^20 terms (``p``
        within about ``4e-5`` of 1 with ``r p`` below about 4e4: too slow to sum,
        too skewed for the expansion), the first 2^12 terms are summed and the
        smooth rest is integrated (Euler-Maclaurin with Gauss-Legendre panels,
        :func:`distributions.counts.smooth_tail_entropy`; within 1e-11 of direct
        sums of 1e7 terms), so every element answers in bounded time.

        Example:
            >>> round(NegativeBinomial(3.0, probs=torch.tensor(0.4)).entropy().item(), 4)
            1.8473
            >>> round(NegativeBinomial(1e10, logits=torch.tensor(0.0)).entropy().item(), 4)
            13.2784
            >>> round(NegativeBinomial(2.0, logits=torch.tensor(30.0)).entropy().item(), 4)
            31.5772
        """
        shape = self.batch_shape
        r = self.total_count.double().expand(shape)
        if self._from_probs:
            p = self.probs.double().expand(shape)
            q = 1 - p
        else:  # sigmoid(-logits), not 1 - p: p rounds to 1 from logits of 37 on
            p, q = torch.sigmoid(self.logits.double()), torch.sigmoid(-self.logits.double())
            p, q = p.expand(shape), q.expand(shape)
        rp = r * p
        var = rp / q.pow(2)
        wide = near_normal(var, (1 + p) / rp.sqrt())
        # The sum covers the mode, 40 sd and 40 decay lengths 1 / -log p of the tail.
        terms = var * q + 40 * var.sqrt() + 40 / -torch.log1p(-q)
        long = ~wide & (terms > _MAX_ENTROPY_TERMS)
        r_s = torch.where(wide | long, 1.0, r)
        p_s = torch.where(wide | long, 0.5, p)
        d = NegativeBinomial(r_s, probs=p_s, validate_args=False)
        ratio = lambda k: p_s * (k + r_s) / (k + 1)  # noqa: E731
        h = count_entropy(d.log_prob, ratio, d.mode, shape)
        if bool(wide.any()):
            v, rp_w = torch.where(wide, var, 1e4), torch.where(wide, rp, 1e4)
            p_w = torch.where(wide, p, 0.5)
            skew, kurt = (1 + p_w) / rp_w.sqrt(), (1 + 4 * p_w + p_w.pow(2)) / rp_w
            h = torch.where(wide, edgeworth_entropy(v, skew, kurt), h)
        if bool(long.any()):
            h = torch.where(long, _long_entropy(r, q, long, rp.sqrt() / q), h)
        return h.to(self._param.dtype)

    def cdf(self, value):
        """``P(X <= value) = I_{1-p}(r, floor(value) + 1)``, 0 below 0.

        Example:
            >>> d = NegativeBinomial(2.5, probs=torch.tensor(0.3))
            >>> round(d.cdf(torch.tensor(0.0)).item(), 6) == round(0.7 ** 2.5, 6)
            True
        """
        k = value.floor()
        out = self._cdf64(k).to(torch.promote_types(value.dtype, self._param.dtype))
        return torch.where(k < 0, torch.zeros_like(out), out)

    def _cdf64(self, k):
        """``I_{1-p}(r, k + 1)`` in float64 for ``k >= 0`` (negative ``k`` read as 0).

        ``1 - p`` and ``p`` are both formed in float64 and passed to ``betainc``:
        in float32, ``1 - p`` at ``p = 1e-6`` is off by 3e-8 relative, which
        ``(1 - p)^r`` at ``r = 1e5`` would turn into a 3e-3 error.
        """
        if self._from_probs:
            success = self.probs.double()
            failure = 1 - success
        else:
            failure, success = (
                torch.sigmoid(-self.logits.double()),
                torch.sigmoid(self.logits.double()),
            )
        return betainc(self.total_count, k.clamp(min=0) + 1, failure, success)

    def icdf(self, value):
        """The smallest integer ``k`` with ``cdf(k) >= value`` (``inf`` at ``value = 1``).

        The search starts at a normal approximation, widens an integer bracket
        ``cdf(lo) < value <= cdf(hi)`` by exponential search and halves it by
        bisection, all elements at once; the cost is a few dozen ``cdf`` calls.
        Candidates are float64 integers whatever the dtype (float32 cannot
        count past 2^24), and each ``cdf`` is rounded to the dtype before the
        comparison, so ``icdf(cdf(k)) == k`` holds in float32 too (and a ``value``
        within a few float32 steps of 1 resolves only as finely as that cdf).

        Raises:
            ValueError: with validation on, for values outside ``[0, 1]``.

        Example:
            >>> d = NegativeBinomial(torch.tensor([2.0, 50.0]), probs=torch.tensor(0.9))
            >>> k = torch.tensor([3.0, 400.0])
            >>> torch.equal(d.icdf(d.cdf(k)), k)
            True
        """
        point_mass = (self.total_count == 0) | (self.probs == 0)
        top = torch.where(point_mass, 0.0, math.inf)
        return count_icdf(self, value, self._param.dtype, self._reaches, top)

    def _reaches(self, k, q):
        """``cdf(k) >= q`` for float64 integers ``k``, treating ``k < 0`` as ``cdf = 0``."""
        return (k >= 0) & (self._cdf64(k).to(q.dtype) >= q)


def _long_entropy(r, q, long, sd):
    """The entropy where its sum would be too long: ``q = 1 - p`` tiny, ``r p`` below ~4e4.

    The first 2^12 terms are summed; from there on the pmf is smooth in ``k``
    (it varies on the scale of ``k`` and of ``max(sd, 1 / q)``, both beyond
    2^12), and :func:`distributions.counts.smooth_tail_entropy` integrates the
    rest. Against direct sums of 1e7 terms the error is below 1e-11 (tested);
    the omitted Euler-Maclaurin term is of order ``f(M) / M^3`` at ``M = 2^12``.
    Elements not in ``long`` get a placeholder law, and their result is unused.
    """
    r_l, q_l = torch.where(long, r, 1.0), torch.where(long, q, 1e-6)
    log_p, log_q = torch.log1p(-q_l), q_l.log()
    log_pmf = lambda k: _log_coefficient(r_l, k) + k * log_p + r_l * log_q  # noqa: E731
    k = torch.arange(_SUMMED_TERMS, dtype=torch.float64).view((-1,) + (1,) * r.dim())
    lp = log_pmf(k)
    head = -(lp.exp() * lp.masked_fill(lp == -math.inf, 0.0)).sum(0)
    scale = torch.maximum(torch.where(long, sd, 1e6), 1 / q_l)
    end = r_l * (1 - q_l) / q_l + 40 * scale + 40 / q_l
    return head + smooth_tail_entropy(log_pmf, _SUMMED_TERMS, scale, end)


def _log_coefficient(r, k):
    """``log Gamma(r + k) / (Gamma(r) k!)`` as ``-log k - log B(r, k)``, and 0 at ``k = 0``.

    Three ``lgamma`` terms of size ``k log k`` would cancel to a result of size
    ``r log k`` (float32 loses about 1e-3 at ``k = 1e4``); ``log_beta`` does not.
    At ``r = 0`` it is ``-inf`` for ``k > 0``: the law is a point mass at 0.
    """
    safe = k.clamp(min=1)
    out = -torch.log(safe) - log_beta(r, safe)
    return out.masked_fill(k == 0, 0.0)


def _check_total_count(total_count, name, param):
    """Rejects a ``total_count`` that is not a number or a broadcastable tensor."""
    if isinstance(total_count, bool) or not isinstance(total_count, (Number, torch.Tensor)):
        raise ValueError(
            f"NegativeBinomial: argument 'total_count' must be a number or a tensor, got "
            f"{type(total_count).__name__}; pass a float or torch.as_tensor(total_count)"
        )
    if isinstance(total_count, torch.Tensor) and isinstance(param, torch.Tensor):
        try:
            broadcast_shape(total_count.shape, param.shape)
        except RuntimeError:
            raise ValueError(
                f"NegativeBinomial: argument 'total_count' of shape {tuple(total_count.shape)} "
                f"does not broadcast with '{name}' of shape {tuple(param.shape)}; reshape one "
                "of them (e.g. total_count.unsqueeze(-1)) so the shapes broadcast"
            ) from None
