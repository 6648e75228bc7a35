"""``ContinuousBernoulli``: the normalized Bernoulli likelihood on ``[0, 1]``.

Loaiza-Ganem & Cunningham 2019, "The continuous Bernoulli: fixing a pervasive
error in variational autoencoders" (arXiv 1907.06845). The density
``C(p) p^x (1 - p)^(1 - x)`` is the exponential family ``exp(eta x - A(eta))``
with natural parameter ``eta = logit(p)``, sufficient statistic ``x``, unit base
measure and log-normalizer ``A(eta) = log((e^eta - 1) / eta)``.

Every quantity below is written in ``eta``. The closed forms divide by ``eta``,
so near ``eta = 0`` (``p = 1/2``, the uniform law) each one switches to its
Taylor series in ``eta``: the log-normalizer inside ``lims`` (torch's
convention), the other statistics where their closed forms would lose digits to
cancellation in the working dtype.
"""

import math

import torch

from distributions import constraints
from distributions.binary_params import BinaryParams
from distributions.exp_family import ExponentialFamily
from distributions.utils import (
    broadcast_all,
    probs_or_logits,
    probs_to_logits,
    promote_float,
    uniform_draws,
)

__all__ = ["ContinuousBernoulli"]

# Taylor coefficients in z = eta^2 about eta = 0 (from the Bernoulli-number series
# of coth): A(eta) - eta/2, (mean - 1/2) / eta, and the variance A''(eta).
_LOG_NORM_SERIES = (0.0, 1 / 24, -1 / 2880, 1 / 181440, -1 / 9676800)
_MEAN_SERIES = (1 / 12, -1 / 720, 1 / 30240, -1 / 1209600, 1 / 47900160)
_VAR_SERIES = (1 / 12, -1 / 240, 1 / 6048, -1 / 172800, 1 / 5322240, -691 / 118879488000)


def _poly(z, coefficients):
    """``sum_k c_k z^k`` by Horner's rule."""
    result = torch.full_like(z, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        result = result * z + c
    return result


def _near_zero(eta, small):
    """``eta`` where ``small``, else 0: the series branch then never sees a huge ``eta``,
    whose ``inf - inf`` would turn the (unselected) branch's gradient into NaN."""
    return torch.where(small, eta, torch.zeros_like(eta))


def _moment_cutoff(dtype):
    # The closed-form mean and variance cancel terms of size 1/|eta| and 1/eta^2;
    # below this |eta| the (truncated) series is the more accurate of the two.
    return 0.25 if dtype == torch.float64 else 1.0


def _quantile_cutoff(dtype):
    # cdf and icdf are well conditioned for any eta != 0; the series (to eta^3)
    # only bridges eta = 0 itself, so its radius can sit near eps^(1/4).
    return torch.finfo(dtype).eps ** 0.25


def _check_lims(lims):
    try:
        low, high = (float(v) for v in lims)
    except (TypeError, ValueError):
        raise ValueError(
            f"ContinuousBernoulli: argument 'lims' must be a pair of floats (low, high), "
            f"got {lims!r}; the default is (0.499, 0.501)"
        ) from None
    if not 0 < low < 0.5 < high < 1:
        raise ValueError(
            f"ContinuousBernoulli: argument 'lims' must satisfy 0 < low < 0.5 < high < 1, "
            f"got {lims!r}; pass an interval around 1/2 such as (0.499, 0.501)"
        )
    return low, high


class ContinuousBernoulli(BinaryParams, ExponentialFamily):
    """Density ``C(probs) probs^x (1 - probs)^(1 - x)`` on ``[0, 1]``.

    ``probs = 1/2`` is the uniform law; the mean is not ``probs`` but
    ``probs / (2 probs - 1) + 1 / (2 atanh(1 - 2 probs))``. Sampling is
    reparameterized through the closed-form inverse cdf of a uniform draw.

    Built from ``probs``, every statistic uses ``probs`` clamped into
    ``(eps, 1 - eps)``, as torch does, so that ``probs = 0`` or ``1`` stays finite
    (``.probs`` itself keeps the value given). Built from ``logits``, they are
    used as given: torch clamps the probabilities, which caps ``|logits|`` near
    36 in float64 and 16 in float32.

    Args:
        probs: ``p`` in ``[0, 1]``.
        logits: ``logit(p)``, the natural parameter.
        lims: the interval of ``probs`` around 1/2 where the log-normalizer uses
            its Taylor series (torch's default ``(0.499, 0.501)``).
        validate_args: see :class:`Distribution`.

    Raises:
        ValueError: unless exactly one of ``probs`` and ``logits`` is given, or
            when ``lims`` is not an interval inside ``(0, 1)`` around 1/2.

    Example:
        >>> d = ContinuousBernoulli(probs=torch.tensor(0.5))
        >>> d.mean.item(), d.log_prob(torch.tensor(0.3)).item()
        (0.5, 0.0)
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), validate_args=None):
        probs_or_logits("ContinuousBernoulli", probs, logits)
        self._lims = _check_lims(lims)
        if probs is not None:
            (self.probs,) = broadcast_all(promote_float(probs))
            self._param = self.probs
        else:
            (self.logits,) = broadcast_all(promote_float(logits))
            self._param = self.logits
        super().__init__(self._param.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(ContinuousBernoulli, _instance)
        batch_shape = torch.Size(batch_shape)
        new._lims = self._lims
        for name in ("probs", "logits"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(batch_shape))
                if self._param is self.__dict__[name]:
                    new._param = getattr(new, name)
        super(ContinuousBernoulli, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def _eta(self):
        # Recomputed from probs on each use (probs_to_logits clamps them), not read from
        # the cached logits, so that two gradients (say of rsample and of mean) do not
        # backpropagate through one shared, already freed graph.
        if self._param is self.__dict__.get("logits"):
            return self._param
        return probs_to_logits(self.probs, is_binary=True)

    # ------------------------------------------------------------ statistics
    @property
    def mean(self):
        eta = self._eta
        small = eta.abs() < _moment_cutoff(eta.dtype)
        # With t = |eta|, the mean at -t is 1/t - e^-t / (1 - e^-t) and at +t one
        # minus that: written so no exponential overflows (nor its gradient).
        t = torch.where(small, torch.ones_like(eta), eta.abs())
        low = 1 / t - torch.exp(-t) / -torch.expm1(-t)
        exact = torch.where(eta < 0, low, 1 - low)
        tiny = _near_zero(eta, small)
        return torch.where(small, 0.5 + tiny * _poly(tiny * tiny, _MEAN_SERIES), exact)

    @property
    def mode(self):
        """1 above ``probs = 1/2``, 0 below; NaN at 1/2, where every point is a mode."""
        eta = self._eta
        mode = (eta > 0).to(eta.dtype)
        return mode.masked_fill(eta == 0, math.nan)

    @property
    def variance(self):
        eta = self._eta
        small = eta.abs() < _moment_cutoff(eta.dtype)
        t = torch.where(small, torch.ones_like(eta), eta.abs())
        # A''(eta) = 1/t^2 - 1/(4 sinh^2(t/2)) = 1/t^2 - e^-t / (1 - e^-t)^2, t = |eta|:
        # the second form keeps the gradient finite where sinh would overflow.
        exact = t.pow(-2) - torch.exp(-t) / torch.expm1(-t).pow(2)
        tiny = _near_zero(eta, small)
        return torch.where(small, _poly(tiny * tiny, _VAR_SERIES), exact)

    def entropy(self):
        """``A(eta) - eta mean``; away from ``eta = 0`` in a form free of cancellation.

        ``A`` and ``eta mean`` both grow like ``|eta|``: at ``logits = 1e38`` their
        float32 difference is 0 where the entropy is ``1 - log(1e38) = -86.5``.
        The entropy is even in ``eta`` (``X -> 1 - X``), and for ``t = |eta|``
        equals ``1 - log t + log(1 - e^-t) - t e^-t / (1 - e^-t)``.

        Example:
            >>> round(ContinuousBernoulli(logits=torch.tensor(1e38)).entropy().item(), 2)
            -86.5
        """
        eta = self._eta
        small = eta.abs() < _moment_cutoff(eta.dtype)
        t = torch.where(small, torch.ones_like(eta), eta.abs())
        one_minus = -torch.expm1(-t)
        exact = 1 - torch.log(t) + torch.log(one_minus) - t * torch.exp(-t) / one_minus
        tiny = _near_zero(eta, small)
        series = self._log_normalizer(tiny) - tiny * (0.5 + tiny * _poly(tiny * tiny, _MEAN_SERIES))
        return torch.where(small, series, exact)

    # ---------------------------------------------------------- sample / score
    def rsample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        u = uniform_draws(self._param, shape)
        return self.icdf(u)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        eta = self._eta
        return eta * value - self._log_normalizer(eta)

    def cdf(self, value):
        """``(e^(eta x) - 1) / (e^eta - 1)``, 0 below the support and 1 above it."""
        if self._validate_args:
            self._validate_sample(value)
        eta, x = self._eta, value.clamp(0, 1)
        small = eta.abs() < _quantile_cutoff(eta.dtype)
        safe = torch.where(small, torch.ones_like(eta), eta)
        # Written with e^(-|eta|) so that no exponential overflows for large |eta|.
        neg = -safe.abs()
        exact = torch.exp(-safe.clamp(min=0) * (1 - x)) * torch.expm1(neg * x) / torch.expm1(neg)
        w = x * (x - 1)
        eta = _near_zero(eta, small)
        series = x + eta * (w / 2 + eta * (w * (2 * x - 1) / 12 + eta * w * w / 24))
        return torch.where(small, series, exact)

    def icdf(self, value):
        """``log1p(u (e^eta - 1)) / eta``, mirrored (x -> 1 - x) where ``e^eta`` would overflow."""
        eta, u = self._eta, value
        small = eta.abs() < _quantile_cutoff(eta.dtype)
        safe = torch.where(small, torch.ones_like(eta), eta)
        # For eta > 0 the law of 1 - X has natural parameter -eta.
        big = safe > math.log(torch.finfo(safe.dtype).max) - 1
        v = torch.where(big, 1 - u, u)
        s = torch.where(big, -safe, safe)
        y = torch.log1p(v * torch.expm1(s)) / s
        exact = torch.where(big, 1 - y, y).clamp(0, 1)
        w = u * (1 - u)
        eta = _near_zero(eta, small)
        series = u + eta * (w / 2 + eta * (-w * (2 * u - 1) / 6 + eta * w * (1 - 6 * w) / 24))
        return torch.where(small, series, exact)

    # ------------------------------------------------------ exponential family
    @property
    def _natural_params(self):
        return (self._eta,)

    def _log_normalizer(self, eta):
        """``A(eta) = log((e^eta - 1) / eta)``; its Taylor series for ``probs`` inside ``lims``."""
        low, high = (math.log(p / (1 - p)) for p in self._lims)
        inside = (eta > low) & (eta <= high)
        safe = torch.where(inside, torch.ones_like(eta), eta)
        # log|e^eta - 1| = max(eta, 0) + log(1 - e^(-|eta|)), free of overflow.
        exact = safe.clamp(min=0) + torch.log(-torch.expm1(-safe.abs())) - safe.abs().log()
        near = _near_zero(eta, inside)
        return torch.where(inside, near / 2 + _poly(near * near, _LOG_NORM_SERIES), exact)
