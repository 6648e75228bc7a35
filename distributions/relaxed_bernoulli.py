"""The binary Concrete (relaxed Bernoulli) distribution: in logit space and on (0, 1).

A draw is ``sigmoid((logits + L) / temperature)`` with ``L = log u - log(1 - u)``
standard logistic noise (Maddison et al. 2017, arXiv 1611.00712, section 3.3;
Jang et al. 2017, arXiv 1611.01144). Before the sigmoid the draw is simply
logistic with location ``logits / temperature`` and scale ``1 / temperature``,
so :class:`LogitRelaxedBernoulli` has a closed-form cdf, quantile and moments.
Whatever the temperature, ``P(draw > 1/2) = P(L > -logits) = probs``; as the
temperature falls the draws pile up at 0 and 1 and become Bernoulli draws.
"""

import math

import torch
import torch.nn.functional as F

from distributions import constraints
from distributions.binary_params import BinaryParams
from distributions.distribution import Distribution
from distributions.relaxed_categorical import RelaxedTransformed, _with_temperature
from distributions.transforms import SigmoidTransform
from distributions.utils import (
    broadcast_all,
    clamp_probs,
    probs_or_logits,
    promote_float,
    uniform_draws,
)

__all__ = ["LogitRelaxedBernoulli", "RelaxedBernoulli"]


def _given_param(owner, probs, logits):
    """Returns ``(name, tensor)`` for the one of probs/logits that was given."""
    name, value = probs_or_logits(owner, probs, logits)
    (value,) = broadcast_all(value)
    return name, value


class LogitRelaxedBernoulli(BinaryParams, Distribution):
    """The logit of a binary Concrete draw: ``(logits + L) / temperature``, ``L`` logistic.

    Its density is ``t exp(l - t x) / (1 + exp(l - t x))^2`` (``t`` the
    temperature, ``l`` the logits): the logistic law with location ``l / t``
    and scale ``1 / t``. ``temperature`` is a positive scalar (any one-element
    tensor, as in ``torch.distributions``) or, beyond torch, a tensor that
    broadcasts with the batch shape of probs/logits.

    Args:
        temperature: relaxation temperature, positive.
        probs: probability of the relaxed draw exceeding 1/2 (of a 1 in the limit).
        logits: log-odds ``log(probs / (1 - probs))``.
        validate_args: see :class:`Distribution`.

    Raises:
        ValueError: unless exactly one of probs/logits is given, or when the
            temperature does not broadcast with it.

    Example:
        >>> d = LogitRelaxedBernoulli(torch.tensor(0.5), logits=torch.tensor(1.0))
        >>> d.mean.item(), round(d.cdf(torch.tensor(2.0)).item(), 4)
        (2.0, 0.5)
    """

    arg_constraints = {
        "probs": constraints.unit_interval,
        "logits": constraints.real,
        "temperature": constraints.positive,
    }
    support = constraints.real
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        owner = type(self).__name__
        name, value = _given_param(owner, probs, logits)
        setattr(self, name, value)
        self._param = value
        self.temperature = promote_float(temperature, like=value)
        batch_shape = value.shape
        if self.temperature.numel() != 1:
            batch_shape = _with_temperature(owner, batch_shape, self.temperature)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LogitRelaxedBernoulli, _instance)
        batch_shape = torch.Size(batch_shape)
        for name in ("probs", "logits"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(batch_shape))
                new._param = getattr(new, name)
        t = self.temperature
        new.temperature = t if t.numel() == 1 else t.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _t(self):
        """The temperature, a 0-dim tensor when it has one element (so shapes follow probs)."""
        t = self.temperature
        return t.reshape(()) if t.numel() == 1 else t

    # ------------------------------------------------------------ statistics
    @property
    def mean(self):
        return (self.logits / self._t()).expand(self._batch_shape)

    @property
    def mode(self):
        return self.mean

    @property
    def variance(self):
        return ((math.pi**2 / 3) / self._t().pow(2)).expand(self._batch_shape)

    def entropy(self):
        # The logistic law's entropy, log(scale) + 2, at scale 1 / t.
        return (2 - self._t().log()).expand(self._batch_shape)

    # ------------------------------------------------------- sample / score
    def rsample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        logits = self.logits
        # Clamping u into (0, 1) keeps its logit, the logistic noise, finite.
        u = clamp_probs(uniform_draws(logits, shape))
        return (u.log() - (-u).log1p() + logits) / self._t()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        t = self._t()
        diff = self.logits - t * value
        # log(t e^d / (1 + e^d)^2) with softplus, which does not overflow for large d.
        return t.log() + diff - 2 * F.softplus(diff)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return torch.sigmoid(self._t() * value - self.logits)

    def icdf(self, value):
        return (value.log() - (-value).log1p() + self.logits) / self._t()


class RelaxedBernoulli(RelaxedTransformed):
    """The binary Concrete distribution on ``(0, 1)``: sigmoid of a :class:`LogitRelaxedBernoulli`.

    A reparameterizable relaxation of a Bernoulli draw (Maddison et al. 2017;
    Jang et al. 2017): ``P(x > 1/2) = probs`` at every temperature, and draws
    approach 0 or 1 as the temperature goes to 0. Arguments are validated here
    (not again by the underlying :class:`LogitRelaxedBernoulli`). The sigmoid is
    clipped to stay inside (0, 1), as in ``torch.distributions``, so that
    ``log_prob`` of every draw is finite.

    Args:
        temperature: relaxation temperature, positive.
        probs: probability of the relaxed draw exceeding 1/2.
        logits: log-odds of it.
        validate_args: see :class:`Distribution`.

    Example:
        >>> d = RelaxedBernoulli(torch.tensor([2.2]), torch.tensor([0.1, 0.2, 0.3, 0.99]))
        >>> d.sample().shape, round(d.cdf(torch.tensor(0.5))[3].item(), 4)
        (torch.Size([4]), 0.01)
    """

    arg_constraints = LogitRelaxedBernoulli.arg_constraints
    support = constraints.unit_interval
    has_rsample = True
    _base = LogitRelaxedBernoulli
    _transform = SigmoidTransform

    @staticmethod
    def _given(owner, probs, logits):
        return _given_param(owner, probs, logits)[1]
