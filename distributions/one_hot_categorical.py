"""``OneHotCategorical`` and its straight-through variant."""

import torch

from distributions import constraints
from distributions.categorical import Categorical
from distributions.distribution import Distribution

__all__ = ["OneHotCategorical", "OneHotCategoricalStraightThrough"]


class OneHotCategorical(Distribution):
    """A categorical draw encoded as a one-hot vector over the last dim.

    Args:
        probs: event probabilities, shape ``batch + (K,)``.
        logits: event log-odds, shape ``batch + (K,)``.
        validate_args: see :class:`Distribution`.

    Example:
        >>> OneHotCategorical(probs=torch.tensor([0.0, 1.0])).sample().tolist()
        [0.0, 1.0]
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        batch_shape = self._categorical.batch_shape
        event_shape = self._categorical.param_shape[-1:]
        super().__init__(batch_shape, event_shape, validate_args=False)
        if validate_args is not None:
            self._validate_args = validate_args

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(type(self), _instance)
        batch_shape = torch.Size(batch_shape)
        new._categorical = self._categorical.expand(batch_shape)
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def param_shape(self):
        return self._categorical.param_shape

    @property
    def mean(self):
        return self._categorical.probs

    @property
    def mode(self):
        probs = self._categorical.probs
        return torch.nn.functional.one_hot(probs.argmax(-1), probs.shape[-1]).to(probs)

    @property
    def variance(self):
        probs = self._categorical.probs
        return probs * (1 - probs)

    def sample(self, sample_shape=torch.Size()):
        index = self._categorical.sample(sample_shape)
        probs = self._categorical.probs
        return torch.nn.functional.one_hot(index, probs.shape[-1]).to(probs)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        elif value.dim() < 1 or value.shape[-1] != self.event_shape[0]:
            # A shape check costs no host sync, so it holds with validation off too:
            # argmax over a wrong-sized last dim would score some other category.
            raise ValueError(
                f"OneHotCategorical.log_prob: value of shape {tuple(value.shape)} does not "
                f"end in the event shape {tuple(self.event_shape)}; pass one-hot vectors of "
                f"length {self.event_shape[0]}"
            )
        return self._categorical.log_prob(value.argmax(-1))

    def entropy(self):
        return self._categorical.entropy()

    def enumerate_support(self, expand=True):
        n = self.event_shape[0]
        values = torch.eye(n, dtype=self._categorical.probs.dtype)
        values = values.view((n,) + (1,) * len(self.batch_shape) + (n,))
        if expand:
            values = values.expand((n,) + self.batch_shape + (n,))
        return values


class OneHotCategoricalStraightThrough(OneHotCategorical):
    """``OneHotCategorical`` whose ``rsample`` passes gradients straight through.

    The forward value is the one-hot draw; the backward pass uses the gradient
    of ``probs`` (the straight-through estimator, Bengio, Leonard & Courville
    2013, arXiv 1308.3432): biased, but low-variance and often useful.

    Example:
        >>> logits = torch.zeros(3, requires_grad=True)
        >>> OneHotCategoricalStraightThrough(logits=logits).rsample().sum().backward()
        >>> logits.grad.shape
        torch.Size([3])
    """

    has_rsample = True

    def rsample(self, sample_shape=torch.Size()):
        draw = self.sample(sample_shape)
        probs = self._categorical.probs
        return draw + (probs - probs.detach())
