"""``Gamma``: the gamma distribution with shape ``concentration`` and ``rate``."""

import torch

from distributions import constraints
from distributions.exp_family import ExponentialFamily
from distributions.open_support import clamp_to_support
from distributions.special import gammainc, gammaincinv, standard_gamma, two_product
from distributions.utils import broadcast_all

__all__ = ["Gamma"]


class Gamma(ExponentialFamily):
    """The gamma distribution, density ``rate^a x^(a-1) e^(-rate x) / Gamma(a)`` on ``x >= 0``.

    ``rsample`` is reparameterized with implicit gradients (Figurnov et al.
    2018, arXiv 1805.08498); ``icdf`` inverts the regularized incomplete gamma
    function (see :mod:`distributions.special.incomplete_gamma`), which torch
    does not provide. ``log_prob`` at 0 is the limit: finite for
    ``concentration == 1``, ``+inf`` below, ``-inf`` above.

    Args:
        concentration: shape ``a``, positive.
        rate: inverse scale, positive.
        validate_args: see :class:`Distribution`.

    Example:
        >>> d = Gamma(torch.tensor(2.0), torch.tensor(3.0))
        >>> round(d.log_prob(torch.tensor(0.5)).item(), 4)
        0.0041
        >>> round(d.icdf(d.cdf(torch.tensor(0.5))).item(), 4)
        0.5
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(self.concentration.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Gamma, _instance)
        batch_shape = torch.Size(batch_shape)
        new.concentration = self.concentration.expand(batch_shape)
        new.rate = self.rate.expand(batch_shape)
        super(Gamma, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        # Dividing by an extreme rate over- or underflows; 0 scores -inf for a > 1.
        x = standard_gamma(self.concentration.expand(shape)) / self.rate
        return clamp_to_support(x, 0.0, open_low=True)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        a, rate = self.concentration, self.rate
        if max(value.numel(), a.numel()) < _FUSED_MIN_NUMEL:
            return torch.xlogy(a, rate) + torch.xlogy(a - 1, value) - rate * value - torch.lgamma(a)
        return _log_prob_large(a, rate, value)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        # rate * value exactly, as float64 x + x_lo: for a law narrower than a
        # float neighbouring values must not round to one argument.
        dtype = torch.promote_types(self.rate.dtype, value.dtype)
        x, x_lo = two_product(self.rate.to(torch.float64), value.to(torch.float64))
        return gammainc(self.concentration, x, x_lo).to(dtype)

    def icdf(self, value):
        return gammaincinv(self.concentration, value) / self.rate

    def entropy(self):
        a = self.concentration
        return a - torch.log(self.rate) + torch.lgamma(a) + (1 - a) * torch.digamma(a)

    @property
    def _natural_params(self):
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, x, y):
        return torch.lgamma(x + 1) + (x + 1) * torch.log(-y.reciprocal())


# Below this size the fused form's extra kernel launch costs more than it saves.
_FUSED_MIN_NUMEL = 1024


def _log_prob_large(a, rate, x):
    # xlogy, as in the small-size path, so both answer alike at every size (a
    # blanket nan_to_num here once returned 1.0 for x = -1 where the other gave
    # NaN); in torch 2.13 it costs no more than the product it replaces, the
    # whole call being dominated by lgamma. The fused multiply-adds keep fewer
    # full-size temporaries alive than a chain of adds.
    log_x_term = torch.xlogy(a - 1, x)
    lp = torch.addcmul(log_x_term - torch.lgamma(a), a, rate.log())
    return torch.addcmul(lp, rate, x, value=-1)
