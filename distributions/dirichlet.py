"""``Dirichlet``: the Dirichlet distribution on the probability simplex."""

import torch

from distributions import constraints
from distributions.exp_family import ExponentialFamily
from distributions.special import dirichlet_rsample

__all__ = ["Dirichlet"]


class Dirichlet(ExponentialFamily):
    """The Dirichlet distribution, density ``prod_i x_i^(a_i - 1) / B(a)`` on the simplex.

    Draws are made in log space and normalized with ``logsumexp``, so
    concentrations down to 1e-3 give nearly one-hot draws (as they should)
    rather than NaN or the uniform vector; ``rsample`` has the implicit
    reparameterization gradient of Jankowiak & Obermeyer 2018 (arXiv 1806.01851).

    Args:
        concentration: positive tensor whose last dim indexes the categories.
        validate_args: see :class:`Distribution`.

    Raises:
        ValueError: if ``concentration`` is a scalar.

    Example:
        >>> d = Dirichlet(torch.tensor([1.0, 2.0, 3.0]))
        >>> d.event_shape
        torch.Size([3])
        >>> round(d.log_prob(torch.tensor([0.2, 0.3, 0.5])).item(), 4)
        1.5041
    """

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, concentration, validate_args=None):
        if not isinstance(concentration, torch.Tensor) or concentration.dim() < 1:
            raise ValueError(
                f"Dirichlet: 'concentration' must be a tensor with at least one dim (the "
                f"categories), got {_describe(concentration)}; for K categories pass a tensor "
                "of shape (..., K), e.g. torch.ones(K)"
            )
        self.concentration = concentration
        super().__init__(
            concentration.shape[:-1], concentration.shape[-1:], validate_args=validate_args
        )

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Dirichlet, _instance)
        batch_shape = torch.Size(batch_shape)
        new.concentration = self.concentration.expand(batch_shape + self.event_shape)
        super(Dirichlet, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        # As torch: the interior mode; where every concentration is below 1 the
        # density is unbounded at every vertex and, like torch, we return the first.
        excess = (self.concentration - 1).clamp(min=0)
        mode = excess / excess.sum(-1, keepdim=True)
        vertex = torch.zeros_like(mode)
        vertex[..., 0] = 1
        all_small = (self.concentration < 1).all(-1, keepdim=True)
        return torch.where(all_small, vertex, mode)

    @property
    def variance(self):
        total = self.concentration.sum(-1, keepdim=True)
        return self.concentration * (total - self.concentration) / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        return dirichlet_rsample(self.concentration.expand(shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        # One reduction over the categories for both per-category terms (fewer kernels).
        return (torch.xlogy(c - 1, value) - torch.lgamma(c)).sum(-1) + torch.lgamma(c.sum(-1))

    def entropy(self):
        c = self.concentration
        k = c.shape[-1]
        total = c.sum(-1)
        return (
            torch.lgamma(c).sum(-1)
            - torch.lgamma(total)
            - (k - total) * torch.digamma(total)
            - ((c - 1) * torch.digamma(c)).sum(-1)
        )

    @property
    def _natural_params(self):
        # Statistics log x_i with unit base measure: natural parameters a_i - 1 (as Beta).
        return (self.concentration - 1,)

    def _log_normalizer(self, x):
        return torch.lgamma(x + 1).sum(-1) - torch.lgamma((x + 1).sum(-1))


def _describe(value):
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return f"{type(value).__name__} {value!r}"
