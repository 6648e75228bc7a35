"""``Categorical``: one of ``K`` categories, by probabilities or logits."""

import torch

from distributions import constraints
from distributions.distribution import Distribution
from distributions.utils import (
    broadcast_shape,
    lazy_property,
    logits_to_probs,
    probs_or_logits,
    probs_to_logits,
    promote_float,
)

__all__ = ["Categorical"]


class Categorical(Distribution):
    """A draw from ``{0, ..., K-1}`` with probabilities over the last dim.

    Exactly one of ``probs`` (non-negative, normalized along the last dim) or
    ``logits`` (unnormalized log-probabilities) is given. Sampling uses
    inverse-cdf search (cumulative sums plus ``searchsorted``), which costs
    ``O(K + n log K)`` for ``n`` draws and stays fast for many categories.

    Args:
        probs: event probabilities, shape ``batch + (K,)``.
        logits: event log-odds, shape ``batch + (K,)``.
        validate_args: see :class:`Distribution`.

    Raises:
        ValueError: unless exactly one of ``probs`` and ``logits`` is given, or
            when the parameter has no category dim.

    Example:
        >>> d = Categorical(probs=torch.tensor([0.25, 0.75]))
        >>> round(d.log_prob(torch.tensor(1)).exp().item(), 2)
        0.75
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        probs_or_logits(type(self).__name__, probs, logits)
        # Integer or boolean weights are promoted to the default float dtype (the
        # normalization and every statistic are real-valued).
        probs = None if probs is None else promote_float(probs)
        logits = None if logits is None else promote_float(logits)
        param = probs if probs is not None else logits
        if param.dim() < 1:
            raise ValueError(
                f"{type(self).__name__}: {'probs' if probs is not None else 'logits'} needs a "
                f"last dim of categories, got a 0-d tensor; use shape (K,)"
            )
        if probs is not None:
            self.probs = probs / probs.sum(-1, keepdim=True)
        else:
            self.logits = logits - logits.logsumexp(-1, keepdim=True)
        self._param = param
        self._num_events = param.shape[-1]
        super().__init__(param.shape[:-1], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Categorical, _instance)
        batch_shape = torch.Size(batch_shape)
        shape = batch_shape + (self._num_events,)
        if "probs" in self.__dict__:
            new.probs = self.probs.expand(shape)
            new._param = new.probs
        if "logits" in self.__dict__:
            new.logits = self.logits.expand(shape)
            new._param = new.logits
        new._num_events = self._num_events
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits)

    @property
    def param_shape(self):
        return self._param.shape

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def mean(self):
        return torch.full(self._extended_shape(), float("nan"), dtype=self._param.dtype)

    @property
    def mode(self):
        return self.probs.argmax(-1)

    @property
    def variance(self):
        return torch.full(self._extended_shape(), float("nan"), dtype=self._param.dtype)

    def sample(self, sample_shape=torch.Size()):
        sample_shape = torch.Size(sample_shape)
        n = sample_shape.numel()
        with torch.no_grad():
            cdf = self.probs.reshape(-1, self._num_events).cumsum(-1)
            u = torch.rand(cdf.shape[0], n, dtype=cdf.dtype, device=cdf.device) * cdf[:, -1:]
            index = torch.searchsorted(cdf, u).clamp(max=self._num_events - 1)
        return index.T.reshape(sample_shape + self.batch_shape)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        index = value.long().unsqueeze(-1)
        logits = self.logits
        if index.shape[:-1] != logits.shape[:-1]:
            shape = broadcast_shape(index.shape[:-1], logits.shape[:-1])
            index = index.expand(shape + (1,))
            logits = logits.expand(shape + (self._num_events,))
        return logits.gather(-1, index).squeeze(-1)

    def entropy(self):
        # Categories of probability 0 contribute 0 (not 0 * -inf = nan).
        logits = self.logits.clamp(min=torch.finfo(self.logits.dtype).min)
        return -(logits * self.probs).sum(-1)

    def cdf(self, value):
        """``P(X <= value)``; values below 0 give 0 and above ``K-1`` give 1."""
        cdf = self.probs.cumsum(-1)
        index = value.floor().long().clamp(-1, self._num_events - 1)
        shape = broadcast_shape(index.shape, self.batch_shape)
        cdf = cdf.expand(shape + (self._num_events,))
        picked = cdf.gather(-1, index.clamp(min=0).expand(shape).unsqueeze(-1)).squeeze(-1)
        return torch.where(index.expand(shape) < 0, torch.zeros_like(picked), picked)

    def icdf(self, value):
        """The smallest category whose cdf reaches ``value``."""
        cdf = self.probs.cumsum(-1)
        shape = broadcast_shape(value.shape, self.batch_shape)
        cdf = cdf.expand(shape + (self._num_events,)).contiguous()
        q = value.to(cdf.dtype).expand(shape).unsqueeze(-1).contiguous()
        return torch.searchsorted(cdf, q).clamp(max=self._num_events - 1).squeeze(-1)

    def enumerate_support(self, expand=True):
        values = torch.arange(self._num_events, device=self._param.device)
        values = values.view((-1,) + (1,) * len(self.batch_shape))
        if expand:
            values = values.expand((-1,) + self.batch_shape)
        return values
