"""``StudentT``: Student's t distribution with location and scale."""

import math

import torch

from distributions import constraints
from distributions.distribution import Distribution
from distributions.special import (
    betainc,
    betaincinv_pair,
    digamma_difference,
    log_beta,
    log_gamma_ratio,
    standard_gamma,
)
from distributions.utils import broadcast_all, normal_draws

__all__ = ["StudentT"]

_HALF_LOG_PI = 0.5 * math.log(math.pi)


class StudentT(Distribution):
    """Student's t distribution with ``df`` degrees of freedom, ``loc`` and ``scale``.

    The normalizer ``lgamma((df+1)/2) - lgamma(df/2)`` is formed without
    cancellation (:func:`distributions.special.log_gamma_ratio`), so
    ``log_prob`` stays accurate in float32 up to ``df = 1e8`` where it tends
    to the normal density (torch returns 0.0 there). ``cdf`` and ``icdf`` go
    through the regularized incomplete beta function:
    ``P(T <= t) = I_{df/(df+t^2)}(df/2, 1/2) / 2`` for ``t <= 0``
    (Abramowitz & Stegun 26.7.1).

    Args:
        df: degrees of freedom, positive.
        loc: location.
        scale: scale, positive.
        validate_args: see :class:`Distribution`.

    Example:
        >>> d = StudentT(torch.tensor(1e8), 0.0, 1.0)
        >>> round(d.log_prob(torch.tensor(0.0)).item(), 4)  # the standard normal's -0.9189
        -0.9189
        >>> round(StudentT(torch.tensor(3.0)).icdf(torch.tensor(0.975)).item(), 4)
        3.1824
    """

    arg_constraints = {
        "df": constraints.positive,
        "loc": constraints.real,
        "scale": constraints.positive,
    }
    support = constraints.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        super().__init__(self.df.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(StudentT, _instance)
        batch_shape = torch.Size(batch_shape)
        new.df = self.df.expand(batch_shape)
        new.loc = self.loc.expand(batch_shape)
        new.scale = self.scale.expand(batch_shape)
        super(StudentT, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return torch.where(self.df > 1, self.loc, torch.nan)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        df = self.df
        finite = self.scale.pow(2) * df / (df - 2)
        return torch.where(df > 2, finite, torch.where(df > 1, torch.inf, torch.nan))

    def rsample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        z = normal_draws(self.df, shape)
        # chi2(df) / df = Gamma(df/2, 1) / (df/2)
        half_df = 0.5 * self.df
        g = standard_gamma(half_df.expand(shape))
        return self.loc + self.scale * z * torch.rsqrt(g / half_df)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        df = self.df
        y = (value - self.loc) / self.scale
        log_norm = (
            log_gamma_ratio(0.5 * df, 0.5)
            - 0.5 * torch.log(df)
            - _HALF_LOG_PI
            - torch.log(self.scale)
        )
        return log_norm - 0.5 * (df + 1) * torch.log1p(y * y / df)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        t = ((value - self.loc) / self.scale).double()
        df = self.df.double().expand(torch.broadcast_tensors(t, self.df)[0].shape)
        large = df >= _LARGE_DF
        small_df = torch.where(large, 1.0, df)  # the fraction never sees a huge df
        r = t * t / small_df
        # x = df / (df + t^2) and its complement, both defined at t = 0 and t = +-inf
        x, y = (1 + r).reciprocal(), (1 + r.reciprocal()).reciprocal()
        tail = 0.5 * betainc(0.5 * small_df, 0.5, x, y)
        out = torch.where(t > 0, 1 - tail, tail)
        if bool(large.any()):
            out = torch.where(large, _large_df_cdf(t, torch.where(large, df, _LARGE_DF)), out)
        return out.to(self.df.dtype)

    def icdf(self, value):
        p = value.double()
        df = self.df.double().expand(torch.broadcast_tensors(p, self.df)[0].shape)
        large = df >= _LARGE_DF
        half_df = 0.5 * torch.where(large, 1.0, df)
        tail = 2 * torch.minimum(p, 1 - p)
        x, y = betaincinv_pair(half_df, 0.5, tail, 1 - tail)
        t = torch.sqrt(2 * half_df * y / x)
        t = torch.where(p < 0.5, -t, t)
        if bool(large.any()):
            t = torch.where(large, _large_df_icdf(p, torch.where(large, df, _LARGE_DF)), t)
        return self.loc + self.scale * t.to(self.df.dtype)

    def entropy(self):
        half_df = 0.5 * self.df
        return (
            torch.log(self.scale)
            + (half_df + 0.5) * digamma_difference(half_df, 0.5)
            + 0.5 * torch.log(self.df)
            + log_beta(half_df, torch.full_like(half_df, 0.5))
        )


# From this df on, cdf and icdf use their expansions in 1 / df: the continued
# fraction needs about sqrt(df) terms there (it ran to its cap, for minutes).
# The first omitted terms are O(df^-3) absolutely, below 1e-20; relative to a
# far tail they grow like t^12 / df^3 (measured: 7e-10 at t = -8, 6e-7 at -30).
_LARGE_DF = 1e7


def _large_df_cdf(t, df):
    """``Phi(t) - phi(t) [(t^3 + t) / (4 df) + (3t^7 + 19t^5 + 17t^3 - 15t) / (96 df^2)]``.

    The expansion of Student's t cdf in ``1 / df`` (Abramowitz & Stegun 1964,
    26.7.5; Fisher 1925).
    """
    t2 = t * t
    first = (t2 + 1) * t / 4
    second = (((3 * t2 + 19) * t2 + 17) * t2 - 15) * t / 96
    phi = torch.exp(-0.5 * t2) / math.sqrt(2 * math.pi)
    # 0.5 erfc(-t / sqrt 2), not torch.special.ndtr: ndtr(-8) is 1.8% low in torch 2.13.
    lower = 0.5 * torch.erfc(-t / math.sqrt(2)) - phi * (first / df + second / df.pow(2))
    return lower.clamp(0, 1)


def _large_df_icdf(p, df):
    """``z + (z^3 + z) / (4 df) + (5z^5 + 16z^3 + 3z) / (96 df^2)`` with ``z = Phi^-1(p)``.

    The Cornish-Fisher expansion of Student's t quantile (Abramowitz & Stegun
    1964, 26.7.5).
    """
    z = torch.special.ndtri(p)
    z2 = z * z
    return z + (z2 + 1) * z / (4 * df) + ((5 * z2 + 16) * z2 + 3) * z / (96 * df.pow(2))
