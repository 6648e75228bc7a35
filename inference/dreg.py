"""Doubly reparameterized gradients of the importance-weighted bound (DReG).

For reparameterized draws ``z_k = g(eps_k, phi)`` the IWAE gradient in the
guide parameters ``phi`` has a score-like part, through ``log q_phi`` itself,
whose noise grows with ``K``. Tucker et al. 2018 ("Doubly Reparameterized
Gradient Estimators for Monte Carlo Objectives", arXiv 1810.04152) rewrite it
by reparameterizing that part a second time:

    grad_phi L = E[ sum_k w~_k^2  d/dz_k [log p(x, z_k) - log q_stop(phi)(z_k)] dz_k/dphi ]

with ``w~`` the normalized weights and ``q_stop(phi)`` the guide density with
its parameters held fixed. The model parameters keep the IWAE gradient
``sum_k w~_k grad_theta log p(x, z_k)``. As a surrogate:

    sum_k stop(w~_k^2) (log p(x, z_k) - log q_stop(phi)(z_k))
      + sum_k stop(w~_k - w~_k^2) log p(x, stop(z_k))

When the guide equals the posterior, ``log p - log q`` is constant in ``z``
and the guide gradient is exactly zero for every draw (the
"sticking-the-landing" property, Roeder et al. 2017, arXiv 1703.09194).
Guide parameters must enter through ``ppl.param`` (or ``ppl.module``), which
is how they are held fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ppl.handlers import replay, trace
from ppl.runtime import Message, Messenger
from ppl.trace_struct import Trace

__all__ = ["stop_params", "dreg_log_densities"]


class stop_params(Messenger):
    """Detaches every param site's value: the program's parameters are held fixed.

    Example:
        >>> import torch, ppl
        >>> def guide():
        ...     return ppl.param("m", torch.tensor(1.0, requires_grad=True)) * 2
        >>> stop_params(guide)().requires_grad
        False
    """

    def _postprocess_param(self, msg: Message) -> None:
        msg.value = msg.value.detach()


def _check_reparameterized(guide_trace: Trace) -> None:
    for name, site in guide_trace.iter_stochastic_nodes():
        if not getattr(site.fn, "has_rsample", False):
            raise ValueError(
                f"doubly reparameterized gradients need every guide site reparameterized; "
                f"guide site '{name}' ({type(site.fn).__name__}) is not: drop dreg=True or "
                "use VIMCO for discrete sites"
            )


def dreg_log_densities(
    model: Callable[..., Any],
    guide: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    guide_trace: Trace,
    reduce: Callable[[torch.Tensor], torch.Tensor],
) -> Any:
    """``log q`` with the guide's parameters fixed, and ``log p`` at detached draws.

    Args:
        model, guide: the programs traced for ``guide_trace``.
        args, kwargs: their arguments.
        guide_trace: the guide's trace of this estimate (its draws are reused).
        reduce: ``log_prob tensor -> per-particle vector``.

    Returns:
        ``(log_q_fixed, log_p_detached)``, per particle.

    Raises:
        ValueError: for a guide site without ``rsample``, naming it.
    """
    _check_reparameterized(guide_trace)
    fixed = trace(replay(stop_params(guide), trace=guide_trace)).get_trace(*args, **kwargs)
    detached = guide_trace.copy()
    for site in detached.nodes.values():
        if site.type == "sample":
            site.value = site.value.detach()
    model_trace = trace(replay(model, trace=detached)).get_trace(*args, **kwargs)
    fixed.compute_log_prob()
    model_trace.compute_log_prob()
    log_q = sum(reduce(s.log_prob) for _, s in fixed.iter_stochastic_nodes())
    log_p = sum(reduce(s.log_prob) for s in model_trace.nodes.values() if s.type == "sample")
    return log_q, log_p
