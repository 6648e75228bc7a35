"""``Delta``: a point mass, used for MAP guides and deterministic sites."""

import torch

from distributions import constraints
from distributions.distribution import Distribution
from distributions.utils import broadcast_shape, sum_rightmost

__all__ = ["Delta"]


class Delta(Distribution):
    """A point mass at ``v`` with an optional ``log_density`` carried along.

    ``log_prob(x)`` is ``log_density`` where ``x == v`` and ``-inf`` elsewhere,
    summed over the rightmost ``event_dim`` dims. Sampling returns ``v`` itself
    (so gradients flow to it: it is trivially reparameterized).

    Args:
        v: the location of the mass; its rightmost ``event_dim`` dims form the event.
        log_density: a log density added to the point's score (e.g. a Jacobian term).
        event_dim: how many rightmost dims of ``v`` are event dims.
        validate_args: see :class:`Distribution`.

    Raises:
        ValueError: when ``event_dim`` exceeds ``v.dim()``.

    Example:
        >>> Delta(torch.tensor(2.0)).log_prob(torch.tensor(2.0)).item()
        0.0
    """

    has_rsample = True
    arg_constraints = {"v": constraints.dependent, "log_density": constraints.real}

    def __init__(self, v, log_density=0.0, event_dim=0, validate_args=None):
        if not isinstance(v, torch.Tensor):
            v = torch.tensor(v, dtype=torch.get_default_dtype())
        if event_dim > v.dim():
            raise ValueError(
                f"Delta: event_dim={event_dim} exceeds the {v.dim()} dim(s) of v with shape "
                f"{tuple(v.shape)}"
            )
        split = v.dim() - event_dim
        batch_shape, event_shape = v.shape[:split], v.shape[split:]
        if isinstance(log_density, torch.Tensor):
            batch_shape = broadcast_shape(batch_shape, log_density.shape)
        else:
            dtype = v.dtype if v.is_floating_point() else torch.get_default_dtype()
            log_density = torch.tensor(float(log_density), dtype=dtype)
        self.v = v
        self.log_density = log_density
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    @constraints.dependent_property
    def support(self):
        return constraints.independent(constraints.real, self.event_dim)

    @property
    def event_dim(self):
        return len(self.event_shape)

    def expand(self, batch_shape, _instance=None):
        batch_shape = torch.Size(batch_shape)
        v = self.v.expand(batch_shape + self.event_shape)
        log_density = self.log_density.expand(batch_shape)
        return Delta(v, log_density, self.event_dim, validate_args=False)

    def rsample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        return self.v.expand(shape)

    def log_prob(self, x):
        # log(1) = 0 on the point, log(0) = -inf elsewhere.
        hit = (x == self.v).to(self.log_density.dtype).log()
        return sum_rightmost(hit, self.event_dim) + self.log_density

    @property
    def mean(self):
        return self.v

    @property
    def mode(self):
        return self.v

    @property
    def variance(self):
        return torch.zeros_like(self.v)

    def entropy(self):
        return torch.zeros(self.batch_shape, dtype=self.log_density.dtype)
