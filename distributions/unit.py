"""``Unit``: the distribution of the empty value, carrying a log factor."""

import torch

from distributions import constraints
from distributions.distribution import Distribution
from distributions.utils import broadcast_shape

__all__ = ["Unit"]


class Unit(Distribution):
    """A trivial distribution over empty tensors whose ``log_prob`` is a constant.

    It lets an arbitrary log-factor enter a model as an observed site (this is
    how :func:`ppl.factor` is built): the value has shape ``batch + (0,)`` and
    ``log_prob`` returns ``log_factor`` broadcast to the batch.

    Args:
        log_factor: the log weight; its shape is the batch shape.
        has_rsample: whether to advertise a (trivial) reparameterized sampler.
        validate_args: see :class:`Distribution`.

    Example:
        >>> u = Unit(torch.tensor(-1.5))
        >>> u.sample().shape, u.log_prob(u.sample()).item()
        (torch.Size([0]), -1.5)
    """

    arg_constraints = {"log_factor": constraints.real}
    support = constraints.real

    def __init__(self, log_factor, *, has_rsample=None, validate_args=None):
        if not isinstance(log_factor, torch.Tensor):
            log_factor = torch.tensor(float(log_factor), dtype=torch.get_default_dtype())
        self.log_factor = log_factor
        if has_rsample is not None:
            self.has_rsample = has_rsample
        super().__init__(log_factor.shape, torch.Size((0,)), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return Unit(
            self.log_factor.expand(batch_shape), has_rsample=self.has_rsample, validate_args=False
        )

    def sample(self, sample_shape=torch.Size()):
        return self.log_factor.new_empty(self._extended_shape(sample_shape))

    def rsample(self, sample_shape=torch.Size()):
        return self.sample(sample_shape)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        shape = broadcast_shape(self.batch_shape, value.shape[:-1])
        return self.log_factor.expand(shape)

    def _validate_sample(self, value):
        if value.shape[-1:] != (0,):
            raise ValueError(
                "Unit.log_prob: expected an empty value with last dim 0, got shape "
                f"{tuple(value.shape)}"
            )
