"""The Concrete (Gumbel-softmax) relaxation of a categorical draw: log space and simplex."""

import math

import torch

from distributions import constraints
from distributions.distribution import Distribution
from distributions.linalg import batch_shapes
from distributions.transformed_distribution import TransformedDistribution
from distributions.transforms import ExpTransform
from distributions.utils import (
    clamp_probs,
    lazy_property,
    probs_or_logits,
    probs_to_logits,
    promote_float,
    uniform_draws,
)

__all__ = ["ExpRelaxedCategorical", "RelaxedOneHotCategorical", "RelaxedTransformed"]


def _given_param(owner, probs, logits):
    """Returns ``(name, tensor)`` for the one of probs/logits that was given."""
    name, value = probs_or_logits(owner, probs, logits)
    if not isinstance(value, torch.Tensor) or value.dim() < 1:
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise ValueError(
            f"{owner}: {name} must be a tensor with at least one dim (the categories), got {shape}"
        )
    return name, value


def _with_temperature(owner, batch_shape, temperature):
    try:
        return batch_shapes(batch_shape, temperature.shape)
    except RuntimeError:
        raise ValueError(
            f"{owner}: temperature of shape {tuple(temperature.shape)} does not broadcast with "
            f"the batch shape {tuple(batch_shape)} of probs/logits; pass a scalar temperature "
            "or one per batch element"
        ) from None


class ExpRelaxedCategorical(Distribution):
    """The log of a Concrete / Gumbel-softmax draw (Maddison et al. 2017, arXiv 1611.00712).

    A draw is ``log_softmax((logits + g) / temperature)`` with ``g`` standard
    Gumbel noise; as the temperature goes to 0 its exponential becomes a one-hot
    categorical draw. Working in log space keeps small coordinates accurate. The
    density on the log-simplex (Maddison et al., Appendix C) is
    ``log (K-1)! + (K-1) log t + sum_k (l_k - t x_k) - K logsumexp_k (l_k - t x_k)``.

    ``temperature`` is a positive scalar (any one-element tensor, as in
    ``torch.distributions``) or, beyond torch, a tensor broadcastable with the
    batch shape.

    Args:
        temperature: relaxation temperature, positive.
        probs: event probabilities (normalized along the last dim).
        logits: unnormalized log-probabilities.
        validate_args: see :class:`Distribution`.

    Raises:
        ValueError: unless exactly one of probs/logits is a tensor of at least one dim.

    Example:
        >>> d = ExpRelaxedCategorical(torch.tensor(0.5), logits=torch.zeros(3))
        >>> round(d.rsample().exp().sum().item(), 5)
        1.0
    """

    arg_constraints = {
        "probs": constraints.simplex,
        "logits": constraints.real_vector,
        "temperature": constraints.positive,
    }
    support = constraints.real_vector  # the draws lie on a submanifold of it
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        name, value = _given_param(type(self).__name__, probs, logits)
        if name == "probs":
            self.probs = value / value.sum(-1, keepdim=True)
        else:
            self.logits = value - value.logsumexp(-1, keepdim=True)
        self.temperature = promote_float(temperature, like=value)
        batch_shape = value.shape[:-1]
        if self.temperature.numel() != 1:
            batch_shape = _with_temperature(type(self).__name__, batch_shape, self.temperature)
        super().__init__(batch_shape, value.shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(ExpRelaxedCategorical, _instance)
        batch_shape = torch.Size(batch_shape)
        for name in ("probs", "logits"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(batch_shape + self.event_shape))
        temperature = self.temperature
        new.temperature = (
            temperature if temperature.numel() == 1 else temperature.expand(batch_shape)
        )
        super(ExpRelaxedCategorical, new).__init__(
            batch_shape, self.event_shape, validate_args=False
        )
        new._validate_args = self._validate_args
        return new

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self):
        return torch.softmax(self.logits, dim=-1)

    @property
    def param_shape(self):
        return self._batch_shape + self._event_shape

    def _event_temperature(self):
        """Temperature shaped to broadcast against ``batch + event`` tensors."""
        t = self.temperature
        return t.reshape(()) if t.numel() == 1 else t.unsqueeze(-1)

    def rsample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        logits = self.logits
        u = clamp_probs(uniform_draws(logits, shape))
        gumbel = -(-u.log()).log()
        scores = (logits + gumbel) / self._event_temperature()
        return scores - scores.logsumexp(-1, keepdim=True)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        k = self._event_shape[0]
        t = self._event_temperature()
        score = self.logits - t * value
        log_scale = math.lgamma(k) + (k - 1) * (t.squeeze(-1) if t.dim() else t).log()
        return (score - score.logsumexp(-1, keepdim=True)).sum(-1) + log_scale


class RelaxedTransformed(TransformedDistribution):
    """A relaxed family as a fixed transform of its unconstrained-space base.

    Shared by :class:`RelaxedOneHotCategorical` (``exp`` of an
    :class:`ExpRelaxedCategorical`) and ``RelaxedBernoulli`` (``sigmoid`` of a
    ``LogitRelaxedBernoulli``): a subclass names ``_base`` (built from the same
    arguments, unvalidated, since they are checked here), ``_transform`` and
    ``_category_dims`` (the trailing dims of ``probs`` that are not batch).

    Example:
        >>> RelaxedOneHotCategorical(torch.tensor(0.5), torch.tensor([0.3, 0.7])).event_shape
        torch.Size([2])
    """

    _base: type = Distribution
    _transform: type = ExpTransform
    _category_dims = 0

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        # Shape errors name this class, not the base.
        owner = type(self).__name__
        value = self._given(owner, probs, logits)
        if isinstance(temperature, torch.Tensor) and temperature.numel() != 1:
            batch = value.shape[: value.dim() - self._category_dims]
            _with_temperature(owner, batch, temperature)
        base = self._base(temperature, probs, logits, validate_args=False)
        super().__init__(base, self._transform(), validate_args=validate_args)

    @staticmethod
    def _given(owner, probs, logits):
        return _given_param(owner, probs, logits)[1]

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(RelaxedTransformed, _instance)
        return super().expand(batch_shape, _instance=new)

    @property
    def temperature(self):
        return self.base_dist.temperature

    @property
    def logits(self):
        return self.base_dist.logits

    @property
    def probs(self):
        return self.base_dist.probs

    def __repr__(self):
        return f"{type(self).__name__}({self.base_dist!r})"


class _ExpOntoSimplex(ExpTransform):
    """``exp``, with results below the smallest normal float raised to it.

    At small temperatures a log-space draw falls far below ``log(tiny)`` (at
    ``t = 1e-3`` already in float64) and its ``exp`` rounds to 0: the point leaves
    the open simplex and its log-density is NaN. Raised to ``tiny`` it stays
    inside, moves by less than ``tiny``, and pulls back to a finite log.
    """

    def _call(self, x):
        return x.exp().clamp(min=torch.finfo(x.dtype).tiny)


class RelaxedOneHotCategorical(RelaxedTransformed):
    """The Concrete / Gumbel-softmax distribution on the simplex (Maddison et al. 2017;
    Jang et al. 2017, arXiv 1611.01144).

    ``exp`` of an :class:`ExpRelaxedCategorical` draw: a reparameterizable
    relaxation of a one-hot categorical sample. Arguments are validated here
    (not again by the underlying :class:`ExpRelaxedCategorical`). Coordinates
    of a draw below the smallest normal float (small temperatures) are raised
    to it, so draws stay inside the open simplex with a finite ``log_prob``.

    Args:
        temperature: relaxation temperature, positive.
        probs: event probabilities.
        logits: unnormalized log-probabilities.
        validate_args: see :class:`Distribution`.

    Example:
        >>> d = RelaxedOneHotCategorical(torch.tensor([2.2]), torch.tensor([0.1, 0.2, 0.3, 0.4]))
        >>> d.sample().shape
        torch.Size([4])
    """

    arg_constraints = ExpRelaxedCategorical.arg_constraints
    support = constraints.simplex
    has_rsample = True
    _base = ExpRelaxedCategorical
    _transform = _ExpOntoSimplex
    _category_dims = 1
