"""The probability integral transform ``y = F(x)`` of a distribution."""

from distributions import constraints
from distributions.transforms.base import Transform

__all__ = ["CumulativeDistributionTransform"]


class CumulativeDistributionTransform(Transform):
    """``y = distribution.cdf(x)``, mapping the support onto the unit interval.

    The inverse is ``distribution.icdf`` and the log-det is ``log_prob(x)``
    (the derivative of a CDF is the density). Any object with ``cdf``, ``icdf``,
    ``log_prob`` and ``support`` works; useful for copulas.

    Args:
        distribution: a univariate continuous distribution.
        cache_size: see :class:`Transform`.

    Example:
        >>> import torch
        >>> from distributions import Normal
        >>> CumulativeDistributionTransform(Normal(0.0, 1.0))(torch.tensor(0.0))
        tensor(0.5000)
    """

    bijective = True
    codomain = constraints.unit_interval
    sign = +1

    def __init__(self, distribution, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.distribution = distribution

    @property
    def domain(self):
        return self.distribution.support

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return CumulativeDistributionTransform(self.distribution, cache_size=cache_size)

    def _call(self, x):
        return self.distribution.cdf(x)

    def _inverse(self, y):
        return self.distribution.icdf(y)

    def log_abs_det_jacobian(self, x, y):
        return self.distribution.log_prob(x)

    def __repr__(self):
        return f"{type(self).__name__}({self.distribution!r})"
