"""``GeneralizedPareto``: the limit law of threshold exceedances (peaks over threshold).

The family (Pickands 1975, "Statistical inference using extreme order
statistics", Ann. Statist. 3(1)) has survival function
``(1 + c z)^(-1/c)`` with ``z = (x - loc) / scale`` and shape ``c``
(``concentration``); ``c = 0`` is its limit ``exp(-z)``, the exponential law.
Every formula below is written through two ratios, ``log1p(c z) / c`` and
``expm1(c w) / c``, which tend smoothly to ``z`` and ``w`` as ``c -> 0``; near
there they are evaluated by their Taylor series, so values and gradients stay
accurate for tiny nonzero ``c`` instead of switching abruptly at a tolerance.
"""

import math

import torch

from distributions import constraints
from distributions.distribution import Distribution
from distributions.open_support import clamp_to_support
from distributions.utils import broadcast_all, uniform_draws

__all__ = ["GeneralizedPareto"]


def _series_threshold(dtype):
    # Four series terms leave a relative error below |x|^4 / 5, under eps / 5 at
    # |x| < eps^(1/4); outside that the closed form's cancellation in the
    # gradient costs about eps / |x|, at most eps^(3/4) (7e-6 in float32).
    return torch.finfo(dtype).eps ** 0.25


def _times(c, t):
    """``c * t`` with ``0 * inf`` taken as 0: at ``c = 0`` the series branch is exact."""
    return c * torch.where((c == 0) & t.isinf(), torch.zeros_like(t), t)


def _log1p_ratio(c, z):
    """``log1p(c z) / c``, equal to ``z`` at ``c = 0``; ``+inf`` where ``1 + c z = 0``."""
    # Rounding can push c z a hair below -1 at the upper end of a bounded support.
    x = _times(c, z).clamp(min=-1)
    small = x.abs() < _series_threshold(x.dtype)
    # The branch not taken must stay finite: where() passes it a zero gradient,
    # and zero times an infinite derivative would be NaN.
    safe_c = torch.where(small, torch.ones_like(c), c)
    safe_x = torch.where(small, torch.zeros_like(x), x)
    x = torch.where(small, x, torch.zeros_like(x))
    series = z * (1 - x * (1 / 2 - x * (1 / 3 - x / 4)))
    return torch.where(small, series, torch.log1p(safe_x) / safe_c)


def _expm1_ratio(c, w):
    """``expm1(c w) / c``, equal to ``w`` at ``c = 0`` (also for ``w = inf``)."""
    y = _times(c, w)
    small = y.abs() < _series_threshold(y.dtype)
    safe_c = torch.where(small, torch.ones_like(c), c)
    safe_y = torch.where(small, torch.zeros_like(y), y)
    y = torch.where(small, y, torch.zeros_like(y))
    series = w * (1 + y * (1 / 2 + y * (1 / 6 + y / 24)))
    return torch.where(small, series, torch.expm1(safe_y) / safe_c)


def _log1p_ratio_far(c, z, excess, scale):
    """``log1p(c z) / c`` with ``z = excess / scale``, also where ``c z`` overflows.

    Past ``c z = 1 / eps`` the ``1 +`` is below rounding and ``log(c z)`` is formed
    from logs, so a draw near the float maximum with a tiny scale scores finitely.
    """
    far = (c > 0) & (c * z > 1 / torch.finfo(z.dtype).eps)
    one = torch.ones_like(z)
    # Both branches stay finite where they are not taken (where() passes them 0 gradients).
    safe_c, safe_excess = torch.where(far, c, one), torch.where(far, excess, one)
    log_cz = safe_c.log() + safe_excess.log() - scale.log()
    near = _log1p_ratio(c, torch.where(far, torch.zeros_like(z), z))
    return torch.where(far, log_cz / safe_c, near)


class GeneralizedPareto(Distribution):
    """Density ``(1 + c z)^(-1/c - 1) / scale``, ``z = (x - loc) / scale``, ``c = concentration``.

    The support is ``[loc, inf)`` for ``c >= 0`` and the bounded interval
    ``[loc, loc - scale / c]`` for ``c < 0``. Special cases: the exponential
    law (``c = 0``, ``loc = 0``), the uniform law on ``[loc, loc + scale]``
    (``c = -1``) and the Pareto law (``c > 0``, ``loc = scale / c``).
    Values outside the support score ``-inf`` (with validation off).

    Moments are infinite where the defining integral diverges: the mean for
    ``c >= 1`` and the variance for ``c >= 1/2`` (torch returns NaN there).
    The mode is ``loc`` for ``c >= -1`` and the upper end of the support for
    ``c < -1``, where the density grows without bound (torch returns ``loc``).

    Args:
        loc: location, the lower end of the support.
        scale: positive scale.
        concentration: shape ``c``; any real number.
        validate_args: see :class:`Distribution`.

    Example:
        >>> d = GeneralizedPareto(0.0, 1.0, torch.tensor([0.0, 0.5, -0.5]))
        >>> [round(v, 4) for v in d.cdf(torch.tensor(1.0)).tolist()]
        [0.6321, 0.5556, 0.75]
        >>> d.support.upper_bound.tolist()
        [inf, inf, 2.0]
    """

    arg_constraints = {
        "loc": constraints.real,
        "scale": constraints.positive,
        "concentration": constraints.real,
    }
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args=None):
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        super().__init__(self.loc.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        names = ("loc", "scale", "concentration")
        return self._expand_params(GeneralizedPareto, batch_shape, _instance, names)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.interval(self.loc, self._upper())

    def _upper(self):
        c = self.concentration
        safe_c = torch.where(c < 0, c, -torch.ones_like(c))
        return torch.where(c < 0, self.loc - self.scale / safe_c, math.inf)

    def _z(self, value):
        return (value - self.loc) / self.scale

    # ------------------------------------------------------------ statistics
    @property
    def mean(self):
        c = self.concentration
        finite = c < 1
        safe_c = torch.where(finite, c, torch.zeros_like(c))
        return torch.where(finite, self.loc + self.scale / (1 - safe_c), math.inf)

    @property
    def variance(self):
        c = self.concentration
        finite = c < 0.5
        safe_c = torch.where(finite, c, torch.zeros_like(c))
        var = self.scale.pow(2) / ((1 - safe_c).pow(2) * (1 - 2 * safe_c))
        return torch.where(finite, var, math.inf)

    @property
    def mode(self):
        return torch.where(self.concentration < -1, self._upper(), self.loc)

    def entropy(self):
        # E[log(1 + c Z)] = c for every c, since (1 + c Z)^(-1/c) is uniform.
        return self.scale.log() + self.concentration + 1

    # ------------------------------------------------------- sample / score
    def rsample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        u = uniform_draws(self.loc, shape)
        # Rounding can put a draw at or past the upper end (where the density of
        # c < -1 is infinite), or overflow it: keep it on the support's floats.
        return clamp_to_support(self.icdf(u), self.loc, self._upper(), open_high=True)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        inside = (value >= self.loc) & (value <= self._upper())
        # Outside points get a harmless z, so no NaN leaks into gradients through where().
        z = torch.where(inside, self._z(value), 0.0)
        # (1/c + 1) log1p(c z) = (1 + c) log1p(c z) / c; its factor 1 + c vanishes
        # for the uniform case c = -1, where the ratio is infinite at the upper end.
        h = _log1p_ratio_far(c, z, value - self.loc, self.scale)
        tail = torch.where(c == -1, torch.zeros_like(h), (1 + c) * h)
        lp = -self.scale.log() - tail
        return torch.where(inside, lp, -math.inf)

    def log_survival_function(self, value):
        """``log P(X > value)``: ``-log1p(c z) / c``, or ``-z`` at ``c = 0``.

        Example:
            >>> GeneralizedPareto(0.0, 1.0, 0.0).log_survival_function(torch.tensor(2.0)).item()
            -2.0
        """
        if self._validate_args:
            self._validate_sample(value)
        past_end = value >= self._upper()
        z = torch.where(past_end, 0.0, self._z(value).clamp(min=0))
        return torch.where(past_end, -math.inf, -_log1p_ratio(self.concentration, z))

    def log_cdf(self, value):
        """``log P(X <= value)``, formed as ``log(-expm1(log_survival))`` to keep the left tail.

        Example:
            >>> round(GeneralizedPareto(0.0, 1.0, 0.0).log_cdf(torch.tensor(1e-9)).item(), 4)
            -20.7233
        """
        return torch.log(-torch.expm1(self.log_survival_function(value)))

    def cdf(self, value):
        return -torch.expm1(self.log_survival_function(value))

    def icdf(self, value):
        # Solving (1 + c z)^(-1/c) = 1 - p gives z = expm1(c w) / c with
        # w = -log1p(-p), the standard exponential quantile.
        w = -torch.log1p(-value)
        return self.loc + self.scale * _expm1_ratio(self.concentration, w)
