"""``LogNormal``: ``exp`` of a normal variable."""

import math

import torch

from distributions import constraints
from distributions.distribution import Distribution
from distributions.open_support import clamp_to_support
from distributions.utils import broadcast_all, normal_draws

__all__ = ["LogNormal"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _check_resolved(loc, scale):
    """Raises where the law is narrower than the float resolution of ``log(value)``.

    Near ``exp(loc)`` the floats' logs are ``eps * |loc|`` apart, so ``z`` carries
    an error of ``eps * |loc| / scale``; past 1e-3 the cdf is a step between two
    neighbouring floats that the dtype cannot place (it answered 0.5 for every
    quantile of LogNormal(41, 7e-18) in float32).
    """
    eps = torch.finfo(loc.dtype).eps
    worst = (eps * loc.abs() / scale).max() if loc.numel() else loc.new_zeros(())
    if bool(worst > 1e-3):
        raise ValueError(
            f"LogNormal.cdf: scale is below the {loc.dtype} resolution of log(value) near "
            f"exp(loc) (error in z up to {worst.item():.3g}): the law is narrower than one "
            "float; use float64, or a Normal on log(value)"
        )


class LogNormal(Distribution):
    """The law of ``exp(X)`` for ``X ~ Normal(loc, scale)``.

    The density is written directly, not as a transformed Normal, which saves
    the transform machinery on every call; at ``x = 0`` it is exactly ``-inf``
    (the change-of-variables form gives NaN there).

    Args:
        loc: mean of ``log X``.
        scale: standard deviation of ``log X``, positive.
        validate_args: see :class:`Distribution`.

    Example:
        >>> LogNormal(0.0, 1.0, validate_args=False).log_prob(torch.tensor(0.0)).item()
        -inf
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(LogNormal, batch_shape, _instance, ("loc", "scale"))

    @property
    def mean(self):
        return (self.loc + self.scale.pow(2) / 2).exp()

    @property
    def mode(self):
        return (self.loc - self.scale.pow(2)).exp()

    @property
    def variance(self):
        s2 = self.scale.pow(2)
        return torch.expm1(s2) * (2 * self.loc + s2).exp()

    def rsample(self, sample_shape=torch.Size()):
        eps = normal_draws(self.loc, self._extended_shape(sample_shape))
        # exp of an extreme normal draw over- or underflows; keep it a positive float.
        return clamp_to_support((self.loc + eps * self.scale).exp(), 0.0, open_low=True)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        log_x = value.log()
        z = (log_x - self.loc) / self.scale
        lp = -_HALF_LOG_2PI - log_x - torch.addcmul(self.scale.log(), z, z, value=0.5)
        return lp.masked_fill(value <= 0, -math.inf)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        _check_resolved(self.loc, self.scale)
        z = (value.clamp(min=0).log() - self.loc) / (self.scale * math.sqrt(2))
        return 0.5 * torch.erfc(-z)

    def icdf(self, value):
        return (self.loc + self.scale * torch.special.ndtri(value)).exp()

    def entropy(self):
        return self.loc + 0.5 + _HALF_LOG_2PI + self.scale.log()
