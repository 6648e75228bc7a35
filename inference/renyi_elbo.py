"""``RenyiELBO``: the variational Rényi bound; at ``alpha = 0`` the importance-weighted bound.

For ``K`` draws ``z_k ~ q`` with weights ``w_k = p(x, z_k) / q(z_k)``,

    L_alpha = 1 / (1 - alpha) * log( (1/K) sum_k w_k^(1 - alpha) )

(Li and Turner 2016, "Rényi Divergence Variational Inference", NeurIPS,
arXiv 1602.02311). At ``alpha = 0`` it is the importance-weighted
autoencoder bound ``log (1/K) sum_k w_k`` (Burda et al. 2016, "Importance
Weighted Autoencoders", ICLR, arXiv 1509.00519), which tightens towards
``log p(x)`` as ``K`` grows; as ``alpha -> 1`` it tends to the ELBO.

Gradients: pathwise through reparameterized draws; a non-reparameterized
guide site adds the score-function term ``sum_k log q(z_k) * stop_grad(L)``,
which makes the estimate unbiased for the gradient of ``E[L]`` (the bound
itself) but noisy: :class:`~inference.vimco.VIMCO` gives such sites per-sample
control variates. With ``dreg=True`` (``alpha = 0``, reparameterized guides)
the guide gradient is the doubly reparameterized one of Tucker et al. 2018
(:mod:`inference.dreg`), whose noise does not grow with ``K``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from inference.multi_sample import MultiSampleObjective

__all__ = ["RenyiELBO", "renyi_bound"]


def renyi_bound(log_w: torch.Tensor, alpha: float) -> torch.Tensor:
    """``1/(1-alpha) log mean_k exp((1-alpha) log_w_k)`` for a vector of log-weights.

    Example:
        >>> import torch
        >>> log_w = torch.tensor([0.0, 1.0])
        >>> round(float(renyi_bound(log_w, 0.0)), 4)  # log((1 + e) / 2)
        0.6201
    """
    scaled = (1.0 - alpha) * log_w
    return (torch.logsumexp(scaled, 0) - math.log(log_w.shape[0])) / (1.0 - alpha)


class RenyiELBO(MultiSampleObjective):
    """The Rényi alpha-bound; ``alpha = 0`` is the IWAE bound.

    Args:
        alpha: the order of the Rényi divergence; any real number but 1 (use
            ``Trace_ELBO`` there). ``alpha < 1`` gives a lower bound on
            ``log p(x)``.
        num_particles: ``K``, the number of importance samples per estimate.
        max_plate_nesting: the model's plate depth (needed only with
            ``vectorize_particles``; inferred when ``None``).
        vectorize_particles: draw the ``K`` samples in one run, in a plate.
        dreg: use doubly reparameterized gradients for the guide (only at
            ``alpha = 0``; every guide site must have ``rsample``).
        **kwargs: accepted for compatibility with Pyro
            (``strict_enumeration_warning``).

    Raises:
        ValueError: for ``alpha == 1``, ``num_particles < 1``, or ``dreg`` at
            another ``alpha``.

    Example:
        >>> import torch, ppl
        >>> from distributions import Normal
        >>> def model():
        ...     z = ppl.sample("z", Normal(0.0, 1.0))
        ...     ppl.sample("x", Normal(z, 1.0), obs=torch.tensor(0.5))
        >>> def guide():
        ...     ppl.sample("z", Normal(0.0, 1.0))
        >>> loss = RenyiELBO(alpha=0.0, num_particles=10).loss(model, guide)
        >>> isinstance(loss, float)
        True
    """

    def __init__(
        self,
        alpha: float = 0.0,
        num_particles: int = 2,
        max_plate_nesting: int | None = None,
        vectorize_particles: bool = False,
        dreg: bool = False,
        **kwargs: Any,
    ) -> None:
        if alpha == 1:
            raise ValueError(
                "RenyiELBO: alpha=1 is the ordinary ELBO, where this bound's formula "
                "divides by zero; use Trace_ELBO"
            )
        if not isinstance(num_particles, int) or num_particles < 1:
            raise ValueError(f"RenyiELBO: num_particles must be an int >= 1, got {num_particles!r}")
        if dreg and alpha != 0:
            raise ValueError(
                f"RenyiELBO: dreg=True is derived for the IWAE bound, alpha=0; got alpha={alpha}"
            )
        super().__init__(num_particles, max_plate_nesting, vectorize_particles, **kwargs)
        self.dreg = dreg
        self.alpha = float(alpha)

    def differentiable_loss(
        self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> torch.Tensor:
        """``-L_alpha`` whose gradient is the estimator's (see the module docs)."""
        weights = self._weights(model, guide, args, kwargs, dreg=self.dreg)
        bound = renyi_bound(weights.log_w, self.alpha)
        if self.dreg:
            return -_dreg_loss(bound, weights)
        surrogate = bound
        if weights.has_score:
            score = (weights.log_q_score * bound.detach()).sum()
            surrogate = surrogate + score - score.detach()
        return -surrogate


def _dreg_loss(bound: torch.Tensor, weights: Any) -> torch.Tensor:
    # Tucker et al. 2018: squared normalized weights on the twice-reparameterized
    # guide term, the IWAE weights on the model's own parameters.
    log_q_fixed, log_p_detached = weights.dreg
    w = torch.softmax(weights.log_w.detach(), 0)
    surrogate = (w**2 * (weights.log_p - log_q_fixed)).sum()
    surrogate = surrogate + ((w - w**2) * log_p_detached).sum()
    return bound.detach() + surrogate - surrogate.detach()
