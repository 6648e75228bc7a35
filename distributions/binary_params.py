"""``BinaryParams``: the probs/logits pair of families parameterized by one success probability.

Bernoulli, Binomial, Geometric, NegativeBinomial, ContinuousBernoulli and
LogitRelaxedBernoulli are built from either ``probs`` or ``logits``; the one
given is stored, the other is derived on first access.
"""

from distributions.utils import lazy_property, logits_to_probs, probs_to_logits

__all__ = ["BinaryParams"]


class BinaryParams:
    """Mixin: lazily derived ``probs``/``logits`` of a binary event, and ``param_shape``.

    A subclass sets one of ``self.probs`` / ``self.logits``, which shadows the
    lazy property on the instance.

    Example:
        >>> import torch
        >>> from distributions import Bernoulli
        >>> round(Bernoulli(logits=torch.tensor(0.0)).probs.item(), 3)
        0.5
    """

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def param_shape(self):
        # probs and logits share one shape; read the one already there.
        given = self.__dict__.get("probs")
        return (self.logits if given is None else given).shape
