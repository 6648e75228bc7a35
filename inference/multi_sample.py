"""Per-particle log importance weights, the input of every multi-sample bound.

For ``K`` draws ``z_k ~ q`` the importance weights are
``log w_k = log p(x, z_k) - log q(z_k)``. The multi-sample objectives
(:class:`~inference.renyi_elbo.RenyiELBO`, :class:`~inference.vimco.VIMCO`) are
functions of the vector ``log w`` and need, for their score-function terms, the
log-density of each particle's non-reparameterized guide sites. Particles are
drawn one run at a time, or all in one run inside a plate at dim
``-(max_plate_nesting + 1)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

import ppl
from inference.dreg import dreg_log_densities
from inference.elbo import check_model_guide_match, infer_max_plate_nesting
from inference.guide_checks import check_model_guide
from inference.objective import Objective
from inference.traces import trace_pair
from ppl.runtime import Message
from ppl.trace_struct import Trace

__all__ = ["MultiSampleObjective", "ParticleWeights", "particle_weights"]

_PARTICLE_PLATE = "num_particles_vectorized"


class ParticleWeights:
    """The per-particle quantities of ``K`` draws.

    Attributes:
        log_w: ``log p(x, z_k) - log q(z_k)``, shape ``(K,)``, differentiable
            through reparameterized draws and every parameter.
        log_q_score: the summed (unscaled, masked) log-density of each
            particle's non-reparameterized guide sites, shape ``(K,)``: what a
            score-function term multiplies.
        has_score: whether any guide site is non-reparameterized.
        log_p: ``log p(x, z_k)`` alone (filled when ``dreg`` was asked for).
        dreg: ``(log_q_fixed, log_p_detached)`` of
            :func:`~inference.dreg.dreg_log_densities`, or ``None``.
    """

    __slots__ = ("log_w", "log_q_score", "has_score", "log_p", "dreg")

    def __init__(
        self,
        log_w: torch.Tensor,
        log_q_score: torch.Tensor,
        has_score: bool,
        log_p: torch.Tensor | None = None,
        dreg: tuple[torch.Tensor, ...] | None = None,
    ) -> None:
        self.log_w = log_w
        self.log_q_score = log_q_score
        self.has_score = has_score
        self.log_p = log_p
        self.dreg = dreg


def _per_particle(tensor: torch.Tensor, dim: int | None, num: int) -> torch.Tensor:
    # Sums a log-prob over every dim except the particle dim (None: one particle).
    if dim is None:
        return tensor.sum().reshape(1)
    if tensor.dim() < -dim:
        return tensor.sum().expand(num)
    moved = tensor.movedim(dim, 0)
    return moved.reshape(moved.shape[0], -1).sum(-1).expand(num)


def _masked_unscaled(site: Message) -> torch.Tensor:
    log_prob = site.unscaled_log_prob
    if site.mask is not None and site.mask is not True:
        mask = torch.as_tensor(site.mask, device=log_prob.device)
        log_prob = torch.where(mask, log_prob, log_prob.new_zeros(()))
    return log_prob


def _weights_of(
    model_trace: Trace, guide_trace: Trace, dim: int | None, num: int
) -> tuple[torch.Tensor, torch.Tensor, bool, torch.Tensor]:
    log_w = torch.zeros(num)
    log_q_score = torch.zeros(num)
    has_score = False
    for site in model_trace.nodes.values():
        if site.type == "sample":
            log_w = log_w + _per_particle(site.log_prob, dim, num)
    log_p = log_w
    for site in guide_trace.nodes.values():
        if site.type != "sample" or site.is_observed:
            continue
        log_w = log_w - _per_particle(site.log_prob, dim, num)
        if not getattr(site.fn, "has_rsample", False):
            has_score = True
            log_q_score = log_q_score + _per_particle(_masked_unscaled(site), dim, num)
    return log_w, log_q_score, has_score, log_p


def _one_run(
    model: Callable[..., Any],
    guide: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    dim: int | None,
    num: int,
    dreg: bool,
) -> tuple[Any, ...]:
    model_trace, guide_trace, _ = trace_pair(model, guide, args, kwargs)
    check_model_guide_match(model_trace, guide_trace)
    check_model_guide(model_trace, guide_trace)
    model_trace.compute_log_prob()
    guide_trace.compute_log_prob()
    parts = _weights_of(model_trace, guide_trace, dim, num)
    extra = None
    if dreg:
        extra = dreg_log_densities(
            model, guide, args, kwargs, guide_trace, lambda t: _per_particle(t, dim, num)
        )
    return (*parts, extra)


def _cat(runs: Any, i: int) -> Any:
    return torch.cat([r[i] for r in runs])


def particle_weights(
    model: Callable[..., Any],
    guide: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    num_particles: int,
    vectorize: bool,
    max_plate_nesting: int | None,
    dreg: bool = False,
) -> ParticleWeights:
    """Draws ``num_particles`` guide samples and returns their :class:`ParticleWeights`.

    Args:
        model, guide: the programs.
        args, kwargs: their arguments.
        num_particles: ``K``.
        vectorize: draw the particles in one run, in a plate.
        max_plate_nesting: the model's plate depth (``None``: inferred), used
            to place the particle plate when vectorized.
        dreg: also compute the densities of doubly reparameterized gradients.

    Returns:
        A :class:`ParticleWeights`.
    """
    if not vectorize or num_particles == 1:
        runs = [_one_run(model, guide, args, kwargs, None, 1, dreg) for _ in range(num_particles)]
        extra = None
        if dreg:
            extra = tuple(torch.cat([r[4][i] for r in runs]) for i in range(2))
        has_score = any(r[2] for r in runs)
        return ParticleWeights(_cat(runs, 0), _cat(runs, 1), has_score, _cat(runs, 3), extra)
    if max_plate_nesting is None:
        max_plate_nesting = infer_max_plate_nesting(model, guide, args, kwargs)
    dim = -(max_plate_nesting + 1)

    def wrap(fn: Callable[..., Any]) -> Any:
        def vectorized(*a: Any, **k: Any) -> Any:
            with ppl.plate(_PARTICLE_PLATE, num_particles, dim=dim):
                return fn(*a, **k)

        return vectorized

    run = _one_run(wrap(model), wrap(guide), args, kwargs, dim, num_particles, dreg)
    return ParticleWeights(*run)


class MultiSampleObjective(Objective):
    """Base of the multi-sample bounds: the particle settings and one weighing call.

    Args:
        num_particles: samples per bound.
        max_plate_nesting: plate dims the model uses at most (inferred when ``None``).
        vectorize_particles: draw the samples in one pass inside an outer plate.
        **kwargs: accepted for compatibility with Pyro's constructors.
    """

    def __init__(
        self,
        num_particles: int,
        max_plate_nesting: int | None = None,
        vectorize_particles: bool = False,
        **kwargs: Any,
    ) -> None:
        self.num_particles = num_particles
        self.max_plate_nesting = max_plate_nesting
        self.vectorize_particles = vectorize_particles
        self.options = kwargs

    def _weights(
        self,
        model: Callable[..., Any],
        guide: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        **options: Any,
    ) -> ParticleWeights:
        """The :class:`ParticleWeights` of one estimate with this objective's settings."""
        return particle_weights(
            model,
            guide,
            args,
            kwargs,
            self.num_particles,
            self.vectorize_particles,
            self.max_plate_nesting,
            **options,
        )
