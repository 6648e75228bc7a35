"""``Beta``: the beta distribution on the unit interval."""

import torch

from distributions import constraints
from distributions.exp_family import ExponentialFamily
from distributions.special import beta_rsample, betainc, betaincinv, log_beta
from distributions.utils import broadcast_all

__all__ = ["Beta"]


class Beta(ExponentialFamily):
    """The beta distribution, density ``x^(a-1) (1-x)^(b-1) / B(a, b)`` on ``[0, 1]``.

    Beyond torch: ``cdf`` and ``icdf`` (regularized incomplete beta function
    and its inverse, see :mod:`distributions.special`); draws made in log
    space, so concentrations down to 1e-3 give draws piled at 0 and 1 in the
    right proportions instead of NaN or 1/2; ``log_prob`` at exactly 0 and 1 is
    the limit of the density (finite for a unit concentration, ``+inf`` where
    it diverges, ``-inf`` where it vanishes).

    Args:
        concentration1: ``a``, the exponent of ``x``, positive.
        concentration0: ``b``, the exponent of ``1 - x``, positive.
        validate_args: see :class:`Distribution`.

    Example:
        >>> d = Beta(torch.tensor(1.0), torch.tensor(3.0))
        >>> round(d.log_prob(torch.tensor(0.0)).item(), 4)  # log 3
        1.0986
        >>> round(d.cdf(torch.tensor(0.5)).item(), 4)
        0.875
    """

    arg_constraints = {
        "concentration1": constraints.positive,
        "concentration0": constraints.positive,
    }
    support = constraints.unit_interval
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        super().__init__(self.concentration1.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Beta, _instance)
        batch_shape = torch.Size(batch_shape)
        new.concentration1 = self.concentration1.expand(batch_shape)
        new.concentration0 = self.concentration0.expand(batch_shape)
        super(Beta, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        # As torch: the interior mode, or the end the density rises towards; where
        # both concentrations are below 1 the density is unbounded at both ends
        # and, like torch, we return 1; NaN where a unit concentration leaves a tie.
        a1 = (self.concentration1 - 1).clamp(min=0)
        b1 = (self.concentration0 - 1).clamp(min=0)
        both_small = (self.concentration1 < 1) & (self.concentration0 < 1)
        return torch.where(both_small, 1.0, a1 / (a1 + b1))

    @property
    def variance(self):
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        return beta_rsample(self.concentration1.expand(shape), self.concentration0.expand(shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration1, self.concentration0
        return torch.xlogy(a - 1, value) + torch.xlogy(b - 1, 1 - value) - log_beta(a, b)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        # Past an end the cdf is 0 or 1 (with validation off), not betainc's NaN.
        return betainc(self.concentration1, self.concentration0, value.clamp(0, 1))

    def icdf(self, value):
        return betaincinv(self.concentration1, self.concentration0, value)

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        return (
            log_beta(a, b)
            - (a - 1) * torch.digamma(a)
            - (b - 1) * torch.digamma(b)
            + (a + b - 2) * torch.digamma(a + b)
        )

    @property
    def _natural_params(self):
        # With statistics (log x, log(1 - x)) and unit base measure the natural
        # parameters are a - 1 and b - 1; (a, b) would need the carrier measure
        # 1 / (x (1 - x)), which _mean_carrier_measure = 0 denies (the generic
        # entropy was then off by up to 3.1 nats).
        return (self.concentration1 - 1, self.concentration0 - 1)

    def _log_normalizer(self, x, y):
        return torch.lgamma(x + 1) + torch.lgamma(y + 1) - torch.lgamma(x + y + 2)
