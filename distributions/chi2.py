"""``Chi2``: the chi-squared distribution, a Gamma with shape ``df / 2`` and rate 1/2."""

import torch

from distributions import constraints
from distributions.gamma import Gamma
from distributions.utils import broadcast_all

__all__ = ["Chi2"]


class Chi2(Gamma):
    """The chi-squared distribution with ``df`` degrees of freedom: ``Gamma(df / 2, 1 / 2)``.

    Inherits ``cdf``, ``icdf`` and the implicitly reparameterized ``rsample``
    from :class:`Gamma`. ``df`` is stored and ``concentration`` derived on each
    access, so gradients in ``df`` can be taken more than once per instance
    (a ``df / 2`` node built at construction would free its saved values after
    the first backward pass).

    Args:
        df: degrees of freedom, positive.
        validate_args: see :class:`Distribution`.

    Example:
        >>> d = Chi2(torch.tensor(3.0))
        >>> round(d.icdf(torch.tensor(0.95)).item(), 4)
        7.8147
    """

    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args=None):
        self.df, self.rate = broadcast_all(df, 0.5)
        super(Gamma, self).__init__(self.df.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Chi2, _instance)
        batch_shape = torch.Size(batch_shape)
        new.df = self.df.expand(batch_shape)
        new.rate = self.rate.expand(batch_shape)
        super(Gamma, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def concentration(self):
        return 0.5 * self.df
