"""``Bernoulli``: a coin flip with success probability ``probs``."""

import torch
import torch.nn.functional as F

from distributions import constraints
from distributions.binary_params import BinaryParams
from distributions.exp_family import ExponentialFamily
from distributions.utils import broadcast_all, probs_or_logits, safe_xlogy

__all__ = ["Bernoulli"]


class Bernoulli(BinaryParams, ExponentialFamily):
    """Values in ``{0, 1}`` with ``P(1) = probs = sigmoid(logits)``.

    Built from ``probs``, ``log_prob`` is the log of the outcome's probability
    (checked values are 0 or 1; unchecked ones take a guarded ``xlogy`` form,
    which also scores values in between), so impossible outcomes score exactly
    ``-inf`` (``Bernoulli(probs=0).log_prob(1)``; torch clamps and returns about
    ``-15.9``). Built from ``logits`` it uses the stable binary cross-entropy
    with logits.

    Args:
        probs: success probability in ``[0, 1]``.
        logits: log-odds of success.
        validate_args: see :class:`Distribution`.

    Raises:
        ValueError: unless exactly one of ``probs`` and ``logits`` is given.

    Example:
        >>> Bernoulli(probs=torch.tensor(0.0)).log_prob(torch.tensor(1.0)).item()
        -inf
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True
    _mean_carrier_measure = 0

    def __init__(self, probs=None, logits=None, validate_args=None):
        probs_or_logits("Bernoulli", probs, logits)
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
            param = self.probs
        else:
            (self.logits,) = broadcast_all(logits)
            param = self.logits
        self._param = param
        super().__init__(param.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Bernoulli, _instance)
        batch_shape = torch.Size(batch_shape)
        if "probs" in self.__dict__:
            new.probs = self.probs.expand(batch_shape)
            new._param = new.probs
        if "logits" in self.__dict__:
            new.logits = self.logits.expand(batch_shape)
            new._param = new.logits
        super(Bernoulli, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        mode = (self.probs >= 0.5).to(self.probs)
        return mode.masked_fill(self.probs == 0.5, float("nan"))

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        with torch.no_grad():
            return torch.bernoulli(self.probs.expand(shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        if "probs" in self.__dict__ and "logits" not in self.__dict__:
            p = self.probs
            if self._validate_args and value.dtype == p.dtype:
                # The check above passed: every value is 0 or 1, so each term
                # is log of its outcome's probability, one where instead of two
                # guarded xlogy terms (4 kernels against 17, the same values
                # and gradients, -inf for an impossible outcome).
                return torch.log(torch.where(value == 1, p, 1 - p))
            # Unchecked values may lie strictly between 0 and 1 (a relaxed
            # target): the cross-entropy form scores those too.
            return safe_xlogy(value, p) + safe_xlogy(1 - value, 1 - p)
        logits = self.logits
        if value.dtype != logits.dtype:
            value = value.to(logits.dtype)
        if logits.shape != value.shape:
            logits, value = torch.broadcast_tensors(logits, value)
        return -F.binary_cross_entropy_with_logits(logits, value, reduction="none")

    def entropy(self):
        return F.binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")

    def cdf(self, value):
        """``P(X <= value)``: 0 below 0, ``1 - probs`` on ``[0, 1)``, 1 from 1 on."""
        q = 1 - self.probs
        return torch.where(value < 0, 0.0, torch.where(value < 1, q, 1.0)).to(q.dtype)

    def icdf(self, value):
        """0 for ``value <= 1 - probs``, else 1."""
        return (value > 1 - self.probs).to(self.probs.dtype)

    def enumerate_support(self, expand=True):
        values = torch.arange(2, dtype=self._param.dtype, device=self._param.device)
        values = values.view((-1,) + (1,) * len(self.batch_shape))
        if expand:
            values = values.expand((-1,) + self.batch_shape)
        return values

    @property
    def _natural_params(self):
        return (torch.logit(self.probs),)

    def _log_normalizer(self, x):
        return torch.log1p(torch.exp(x))
