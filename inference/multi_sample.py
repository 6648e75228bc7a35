"""Per-particle log importance weights, the input of every multi-sample bound.

For ``K`` draws ``z_k ~ q`` the importance weights are
``log w_k = log p(x, z_k) - log q(z_k)``. The multi-sample objectives
(:class:`~inference.renyi_elbo.RenyiELBO`, :class:`~inference.vimco.VIMCO`) are
functions of the vector ``log w`` and need, for their score-function terms, the
log-density of each particle's non-reparameterized guide sites. Particles are
drawn one run at a time, or all in one run inside a plate at dim
``-(max_plate_nesting + 1)``.
"""

import torch

import ppl
from inference.elbo import check_model_guide_match, infer_max_plate_nesting
from ppl.handlers import replay, trace

__all__ = ["ParticleWeights", "particle_weights"]

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
    """

    __slots__ = ("log_w", "log_q_score", "has_score")

    def __init__(self, log_w, log_q_score, has_score):
        self.log_w = log_w
        self.log_q_score = log_q_score
        self.has_score = has_score


def _per_particle(tensor, dim, num):
    # Sums a log-prob over every dim except the particle dim (None: one particle).
    if dim is None:
        return tensor.sum().reshape(1)
    if tensor.dim() < -dim:
        return tensor.sum().expand(num)
    moved = tensor.movedim(dim, 0)
    return moved.reshape(moved.shape[0], -1).sum(-1).expand(num)


def _masked_unscaled(site):
    log_prob = site.unscaled_log_prob
    if site.mask is not None and site.mask is not True:
        mask = torch.as_tensor(site.mask, device=log_prob.device)
        log_prob = torch.where(mask, log_prob, log_prob.new_zeros(()))
    return log_prob


def _weights_of(model_trace, guide_trace, dim, num):
    log_w = torch.zeros(num)
    log_q_score = torch.zeros(num)
    has_score = False
    for site in model_trace.nodes.values():
        if site.type == "sample":
            log_w = log_w + _per_particle(site.log_prob, dim, num)
    for site in guide_trace.nodes.values():
        if site.type != "sample" or site.is_observed:
            continue
        log_w = log_w - _per_particle(site.log_prob, dim, num)
        if not getattr(site.fn, "has_rsample", False):
            has_score = True
            log_q_score = log_q_score + _per_particle(_masked_unscaled(site), dim, num)
    return log_w, log_q_score, has_score


def _one_run(model, guide, args, kwargs, dim, num):
    guide_trace = trace(guide).get_trace(*args, **kwargs)
    model_trace = trace(replay(model, trace=guide_trace)).get_trace(*args, **kwargs)
    check_model_guide_match(model_trace, guide_trace)
    model_trace.compute_log_prob()
    guide_trace.compute_log_prob()
    return _weights_of(model_trace, guide_trace, dim, num)


def particle_weights(model, guide, args, kwargs, num_particles, vectorize, max_plate_nesting):
    """Draws ``num_particles`` guide samples and returns their :class:`ParticleWeights`.

    Args:
        model, guide: the programs.
        args, kwargs: their arguments.
        num_particles: ``K``.
        vectorize: draw the particles in one run, in a plate.
        max_plate_nesting: the model's plate depth (``None``: inferred), used
            to place the particle plate when vectorized.

    Returns:
        A :class:`ParticleWeights`.
    """
    if not vectorize or num_particles == 1:
        runs = [_one_run(model, guide, args, kwargs, None, 1) for _ in range(num_particles)]
        log_w = torch.cat([r[0] for r in runs])
        log_q = torch.cat([r[1] for r in runs])
        return ParticleWeights(log_w, log_q, any(r[2] for r in runs))
    if max_plate_nesting is None:
        max_plate_nesting = infer_max_plate_nesting(model, guide, args, kwargs)
    dim = -(max_plate_nesting + 1)

    def wrap(fn):
        def vectorized(*a, **k):
            with ppl.plate(_PARTICLE_PLATE, num_particles, dim=dim):
                return fn(*a, **k)

        return vectorized

    return ParticleWeights(*_one_run(wrap(model), wrap(guide), args, kwargs, dim, num_particles))
