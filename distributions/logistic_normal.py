"""``LogisticNormal``: a Gaussian pushed onto the simplex by stick breaking."""

from distributions import constraints
from distributions.normal import Normal
from distributions.transformed_distribution import TransformedDistribution
from distributions.transforms import StickBreakingTransform

__all__ = ["LogisticNormal"]


class LogisticNormal(TransformedDistribution):
    """The law of ``StickBreakingTransform()(x)`` for ``x ~ Normal(loc, scale)``.

    A draw of ``K - 1`` independent normals becomes a point of the ``K``-simplex
    (Atchison & Shen 1980 introduced logistic-normal laws on the simplex; this
    one uses the stick-breaking map, as ``torch.distributions`` does, rather than
    the additive log-ratio). The rightmost dim of ``loc``/``scale`` is the event;
    scalar parameters give a 2-simplex.

    Args:
        loc: means of the underlying normals, shape ``batch + (K - 1,)``.
        scale: their standard deviations, positive.
        validate_args: see :class:`Distribution`.

    Example:
        >>> import torch
        >>> d = LogisticNormal(torch.zeros(2), torch.ones(2))
        >>> round(d.sample().sum().item(), 5)
        1.0
        >>> d.event_shape
        torch.Size([3])
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        # The normal's arguments are checked once, as this distribution's own
        # (loc, scale), and values are checked against the simplex.
        base = Normal(loc, scale, validate_args=False)
        if not base.batch_shape:
            base = base.expand([1])
        super().__init__(base, StickBreakingTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LogisticNormal, _instance)
        return super().expand(batch_shape, _instance=new)

    @property
    def loc(self):
        return self.base_dist.base_dist.loc

    @property
    def scale(self):
        return self.base_dist.base_dist.scale

    def __repr__(self):
        return f"LogisticNormal(loc: {_short(self.loc)}, scale: {_short(self.scale)})"


def _short(value):
    return value.item() if value.numel() == 1 else f"tensor of shape {tuple(value.shape)}"
