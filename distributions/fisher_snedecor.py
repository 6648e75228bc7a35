"""``FisherSnedecor``: the F distribution, a ratio of scaled chi-squared variables."""

import torch

from distributions import constraints
from distributions.distribution import Distribution
from distributions.open_support import clamp_to_support
from distributions.special import betainc, betaincinv_pair, log_beta, standard_gamma
from distributions.utils import broadcast_all

__all__ = ["FisherSnedecor"]


class FisherSnedecor(Distribution):
    """The F distribution with ``df1`` and ``df2`` degrees of freedom.

    ``X = (U1 / df1) / (U2 / df2)`` for independent ``U_i ~ Chi2(df_i)``. Beyond
    torch: ``cdf`` and ``icdf`` through the incomplete beta function,
    ``P(X <= x) = I_{df1 x / (df1 x + df2)}(df1/2, df2/2)`` (A&S 26.6.2).

    Args:
        df1: numerator degrees of freedom, positive.
        df2: denominator degrees of freedom, positive.
        validate_args: see :class:`Distribution`.

    Example:
        >>> d = FisherSnedecor(torch.tensor(3.0), torch.tensor(10.0))
        >>> round(d.icdf(torch.tensor(0.95)).item(), 4)
        3.7083
    """

    arg_constraints = {"df1": constraints.positive, "df2": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, df1, df2, validate_args=None):
        self.df1, self.df2 = broadcast_all(df1, df2)
        super().__init__(self.df1.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(FisherSnedecor, _instance)
        batch_shape = torch.Size(batch_shape)
        new.df1 = self.df1.expand(batch_shape)
        new.df2 = self.df2.expand(batch_shape)
        super(FisherSnedecor, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        df2 = self.df2
        return torch.where(df2 > 2, df2 / (df2 - 2), torch.nan)

    @property
    def mode(self):
        df1, df2 = self.df1, self.df2
        return torch.where(df1 > 2, (df1 - 2) / df1 * df2 / (df2 + 2), torch.nan)

    @property
    def variance(self):
        df1, df2 = self.df1, self.df2
        finite = 2 * df2.pow(2) * (df1 + df2 - 2) / (df1 * (df2 - 2).pow(2) * (df2 - 4))
        return torch.where(df2 > 4, finite, torch.nan)

    def rsample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        half1, half2 = 0.5 * self.df1, 0.5 * self.df2
        tiny = torch.finfo(half1.dtype).tiny
        num = standard_gamma(half1.expand(shape)) / half1
        den = standard_gamma(half2.expand(shape)) / half2
        return clamp_to_support(num / den.clamp(min=tiny), 0.0, open_low=True)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        half1, half2 = 0.5 * self.df1, 0.5 * self.df2
        ratio = self.df1 / self.df2
        return (
            half1 * torch.log(ratio)
            + (half1 - 1) * torch.log(value)
            - (half1 + half2) * torch.log1p(ratio * value)
            - log_beta(half1, half2)
        )

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        ratio = self.df1 * value / self.df2
        # 1 - x passed separately: exact even where x rounds to 1 far in the upper tail
        # (and both stay defined at value = 0 and value = inf).
        x, y = (1 + ratio.reciprocal()).reciprocal(), (1 + ratio).reciprocal()
        return betainc(0.5 * self.df1, 0.5 * self.df2, x, y)

    def icdf(self, value):
        x, y = betaincinv_pair(0.5 * self.df1, 0.5 * self.df2, value)
        return (self.df2 * x / (self.df1 * y)).to(self.df1.dtype)
