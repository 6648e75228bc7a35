"""``ExponentialFamily``: entropy and KL from the log-normalizer.

For a density ``p(x) = h(x) exp(<eta, T(x)> - A(eta))`` the entropy is
``A(eta) - <eta, grad A(eta)> - E[log h(x)]`` and the KL divergence between two
members is the Bregman divergence of ``A`` (Nielsen & Garcia 2009,
arXiv 0911.4863). Both need only ``A`` and its gradient, which autograd gives.
"""

from __future__ import annotations

import torch

from distributions.distribution import Distribution
from distributions.utils import sum_rightmost

__all__ = ["ExponentialFamily"]


class ExponentialFamily(Distribution):
    """Base for exponential families, with an autograd entropy fallback.

    Subclasses provide ``_natural_params`` (a tuple of tensors),
    ``_log_normalizer(*natural_params)`` and ``_mean_carrier_measure``
    (``E[log h(x)]``); :meth:`entropy` then needs no closed form.

    Example:
        >>> from distributions import Normal
        >>> isinstance(Normal(0.0, 1.0), ExponentialFamily)
        True
    """

    @property
    def _natural_params(self) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError(f"{type(self).__name__} does not expose natural parameters")

    def _log_normalizer(self, *natural_params: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not expose its log-normalizer")

    @property
    def _mean_carrier_measure(self) -> torch.Tensor | float:
        raise NotImplementedError(f"{type(self).__name__} does not expose E[log h(x)]")

    def entropy(self) -> torch.Tensor:
        """Entropy from the log-normalizer: ``A(eta) - <eta, grad A> - E[log h]``."""
        with torch.enable_grad():
            # Parameters already in a graph keep it, so the entropy stays differentiable
            # in them (torch detaches here and loses that gradient).
            etas = [
                p if p.requires_grad else p.detach().requires_grad_() for p in self._natural_params
            ]
            log_norm = self._log_normalizer(*etas)
            grads = torch.autograd.grad(log_norm.sum(), etas, create_graph=True)
        result = log_norm - self._mean_carrier_measure
        for eta, g in zip(etas, grads):
            result = result - sum_rightmost(eta * g, len(self.event_shape))
        return result
