"""``InverseGamma``: the law of ``1 / X`` for ``X ~ Gamma(concentration, rate)``."""

import torch

from distributions import constraints
from distributions.distribution import Distribution
from distributions.open_support import clamp_to_support
from distributions.special import gammaincc, gammainccinv, standard_gamma, two_product
from distributions.utils import broadcast_all

__all__ = ["InverseGamma"]


class InverseGamma(Distribution):
    """The inverse gamma distribution, density ``rate^a x^(-a-1) e^(-rate/x) / Gamma(a)``.

    torch builds this as a transformed Gamma; here the density, ``cdf`` and
    ``icdf`` are written directly (one pass, no Jacobian term), and ``icdf``
    comes from the inverse upper incomplete gamma function, which torch lacks.

    Args:
        concentration: shape ``a``, positive.
        rate: scale of ``1 / X``, positive.
        validate_args: see :class:`Distribution`.

    Example:
        >>> d = InverseGamma(torch.tensor(3.0), torch.tensor(2.0))
        >>> round(d.mean.item(), 4)
        1.0
        >>> round(d.icdf(d.cdf(torch.tensor(0.7))).item(), 4)
        0.7
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(self.concentration.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(InverseGamma, _instance)
        batch_shape = torch.Size(batch_shape)
        new.concentration = self.concentration.expand(batch_shape)
        new.rate = self.rate.expand(batch_shape)
        super(InverseGamma, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        a = self.concentration
        return torch.where(a > 1, self.rate / (a - 1), torch.inf)

    @property
    def mode(self):
        return self.rate / (self.concentration + 1)

    @property
    def variance(self):
        a = self.concentration
        return torch.where(a > 2, self.rate.pow(2) / ((a - 1).pow(2) * (a - 2)), torch.inf)

    def rsample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        # rate / G over- or underflows at extreme parameters: keep a positive float.
        x = self.rate / standard_gamma(self.concentration.expand(shape))
        return clamp_to_support(x, 0.0, open_low=True)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        a, rate = self.concentration, self.rate
        return torch.xlogy(a, rate) - torch.lgamma(a) - (a + 1) * torch.log(value) - rate / value

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        # rate / value as float64 x + x_lo, the remainder from an exact product: for
        # a law narrower than a float neighbouring values must not round to one argument.
        dtype = torch.promote_types(self.rate.dtype, value.dtype)
        rate, value64 = self.rate.to(torch.float64), value.to(torch.float64)
        x = rate / value64
        p, e = two_product(x.detach(), value64.detach())
        x_lo = ((rate.detach() - p) - e) / value64.detach()
        return gammaincc(self.concentration, x, x_lo).to(dtype)

    def icdf(self, value):
        return self.rate / gammainccinv(self.concentration, value)

    def entropy(self):
        a = self.concentration
        return a + torch.log(self.rate) + torch.lgamma(a) - (1 + a) * torch.digamma(a)
