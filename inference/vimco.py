"""``VIMCO``: the multi-sample bound with leave-one-out control variates per sample.

For ``K`` draws ``z_k ~ q`` with log-weights ``l_k = log p(x, z_k) - log q(z_k)``
the objective is the importance-weighted bound ``L = log (1/K) sum_k exp(l_k)``.
Its gradient is

    E[ sum_k (L - L_{-k}) grad log q(z_k)  +  sum_k w~_k grad l_k ]

where ``w~_k`` are the normalized weights and ``L_{-k}`` is ``L`` with ``l_k``
replaced by the mean of the other log-weights (their geometric mean in
weight space). ``L_{-k}`` does not depend on ``z_k``, so subtracting it leaves
the estimate unbiased, and it removes most of the noise a plain
score-function term ``L grad log q(z_k)`` carries: each sample is credited
only with how much it changes the bound. This is Mnih and Rezende 2016,
"Variational Inference for Monte Carlo Objectives", ICML, arXiv 1602.06725,
for discrete latents (reparameterized sites get pathwise gradients through
``l_k`` as well).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from inference.multi_sample import MultiSampleObjective

__all__ = ["VIMCO", "leave_one_out_bounds"]


def leave_one_out_bounds(log_w: torch.Tensor) -> torch.Tensor:
    """``L_{-k}``: the bound with ``log_w[k]`` replaced by the mean of the others.

    Args:
        log_w: the log-weights, shape ``(K,)`` with ``K >= 2``.

    Returns:
        A tensor of shape ``(K,)``.

    Example:
        >>> import torch
        >>> leave_one_out_bounds(torch.tensor([0.0, 0.0, 3.0]))[2].item()  # log mean(1, 1, 1)
        0.0
    """
    k = log_w.shape[0]
    others_mean = (log_w.sum() - log_w) / (k - 1)
    # Row k holds the K log-weights with entry k swapped for the others' mean.
    swapped = log_w.expand(k, k).clone()
    swapped.diagonal().copy_(others_mean)
    return torch.logsumexp(swapped, dim=1) - math.log(k)


class VIMCO(MultiSampleObjective):
    """The IWAE bound with VIMCO's per-sample leave-one-out score-function baselines.

    Args:
        num_particles: ``K >= 2`` samples per estimate (the baselines need two).
        max_plate_nesting: the model's plate depth (needed only with
            ``vectorize_particles``; inferred when ``None``).
        vectorize_particles: draw the ``K`` samples in one run, in a plate.
        **kwargs: accepted for compatibility with Pyro's ELBO constructors.

    Raises:
        ValueError: for ``num_particles < 2``.

    Example:
        >>> import torch, ppl
        >>> from distributions import Bernoulli
        >>> def model():
        ...     z = ppl.sample("z", Bernoulli(0.3))
        ...     ppl.sample("x", Bernoulli(0.2 + 0.6 * z), obs=torch.tensor(1.0))
        >>> def guide():
        ...     ppl.sample("z", Bernoulli(ppl.param("q", torch.tensor(0.5))))
        >>> isinstance(VIMCO(num_particles=4).loss(model, guide), float)
        True
    """

    def __init__(
        self,
        num_particles: int = 2,
        max_plate_nesting: int | None = None,
        vectorize_particles: bool = False,
        **kwargs: Any,
    ) -> None:
        if not isinstance(num_particles, int) or num_particles < 2:
            raise ValueError(
                "VIMCO: num_particles must be an int >= 2 (each sample's baseline is built "
                f"from the others), got {num_particles!r}"
            )
        super().__init__(num_particles, max_plate_nesting, vectorize_particles, **kwargs)

    def differentiable_loss(
        self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> torch.Tensor:
        """``-L`` whose gradient is VIMCO's estimator (see the module docs)."""
        weights = self._weights(model, guide, args, kwargs)
        log_w = weights.log_w
        bound = torch.logsumexp(log_w, 0) - math.log(log_w.shape[0])
        surrogate = bound
        if weights.has_score:
            signal = (bound - leave_one_out_bounds(log_w)).detach()
            score = (weights.log_q_score * signal).sum()
            surrogate = surrogate + score - score.detach()
        return -surrogate
