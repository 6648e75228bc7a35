"""``ELBO``: particles, vectorization and model/guide checks shared by every estimator.

Subclasses choose which costs each non-reparameterized guide site is credited
with (:meth:`ELBO._downstream`); everything else — tracing, replay, particle
averaging, the surrogate (:mod:`inference.surrogate`), baselines — is here once.
"""

import torch

import ppl
from inference.baselines import Baselines
from inference.surrogate import SiteCosts, combine, surrogate_loss
from ppl.handlers import replay, trace

__all__ = ["ELBO", "check_model_guide_match", "infer_max_plate_nesting"]

_PARTICLE_PLATE = "num_particles_vectorized"


class ELBO:
    """Base of the ELBO estimators.

    Args:
        num_particles: Monte Carlo samples averaged per estimate.
        max_plate_nesting: how many plate dims the model uses at most; inferred
            from one trace when ``None`` (needed for ``vectorize_particles``).
        vectorize_particles: draw all particles in one pass inside an outer
            plate at dim ``-(max_plate_nesting + 1)``.
        **kwargs: accepted for compatibility with Pyro's constructors
            (``strict_enumeration_warning``, ``ignore_jit_warnings``, ...).
    """

    def __init__(
        self, num_particles=1, max_plate_nesting=None, vectorize_particles=False, **kwargs
    ):
        if num_particles < 1:
            raise ValueError(f"num_particles must be >= 1, got {num_particles}")
        self.num_particles = num_particles
        self.max_plate_nesting = max_plate_nesting
        self.vectorize_particles = vectorize_particles
        self.options = kwargs
        self.baselines = Baselines()
        self.last_traces = None
        self._combine = combine

    # ----------------------------------------------------------- particles
    def _nesting(self, model, guide, args, kwargs):
        if self.max_plate_nesting is None:
            self.max_plate_nesting = infer_max_plate_nesting(model, guide, args, kwargs)
        return self.max_plate_nesting

    def _wrap(self, fn, dim):
        def vectorized(*args, **kwargs):
            with ppl.plate(_PARTICLE_PLATE, self.num_particles, dim=dim):
                return fn(*args, **kwargs)

        return vectorized

    def _traces(self, model, guide, args, kwargs):
        guide_trace = trace(guide).get_trace(*args, **kwargs)
        model_trace = trace(replay(model, trace=guide_trace)).get_trace(*args, **kwargs)
        check_model_guide_match(model_trace, guide_trace)
        model_trace.compute_log_prob()
        guide_trace.compute_log_prob()
        return model_trace, guide_trace

    def _particles(self, model, guide, args, kwargs):
        """Yields ``(model, guide, model_trace, guide_trace)``; the fns are what was traced."""
        if self.vectorize_particles and self.num_particles > 1:
            dim = -(self._nesting(model, guide, args, kwargs) + 1)
            model, guide = self._wrap(model, dim), self._wrap(guide, dim)
            self.baselines.particle_dim, self.baselines.num_particles = dim, self.num_particles
            yield (model, guide, *self._traces(model, guide, args, kwargs))
            return
        self.baselines.particle_dim, self.baselines.num_particles = None, 1
        for _ in range(self.num_particles):
            yield (model, guide, *self._traces(model, guide, args, kwargs))

    def _particle_count(self):
        return self.num_particles

    # ------------------------------------------------------------ estimator
    def _downstream(self, model, guide, args, kwargs, model_trace, guide_trace):
        """Returns ``name -> (model site names, guide site names)`` credited to ``name``."""
        model_names = frozenset(n for n, s in model_trace.nodes.items() if s.type == "sample")
        guide_names = frozenset(
            n for n, s in guide_trace.nodes.items() if s.type == "sample" and not s.is_observed
        )
        return lambda name: (model_names, guide_names)

    def _particle_loss(self, model, guide, args, kwargs, model_trace, guide_trace):
        downstream = self._downstream(model, guide, args, kwargs, model_trace, guide_trace)
        costs = SiteCosts(model_trace, guide_trace)
        return surrogate_loss(costs, downstream, self.baselines, self._combine)

    def differentiable_loss(self, model, guide, *args, **kwargs):
        """The loss whose value is ``-ELBO`` and whose gradient is the estimator's."""
        total = 0.0
        for particle in self._particles(model, guide, args, kwargs):
            loss, _ = self._particle_loss(*particle[:2], args, kwargs, *particle[2:])
            total = total + loss
            self.last_traces = particle[2:]
        return total / self.num_particles

    def loss(self, model, guide, *args, **kwargs):
        """The ``-ELBO`` estimate as a float (no gradients, baselines not updated)."""
        self.baselines.update = False
        try:
            with torch.no_grad():
                return float(self.differentiable_loss(model, guide, *args, **kwargs))
        finally:
            self.baselines.update = True

    def loss_and_grads(self, model, guide, *args, **kwargs):
        """Computes the loss, backpropagates into the parameters, returns the loss as a float."""
        loss = self.differentiable_loss(model, guide, *args, **kwargs)
        if isinstance(loss, torch.Tensor) and loss.requires_grad:
            loss.backward()
        return loss.item() if isinstance(loss, torch.Tensor) else float(loss)

    def __call__(self, model, guide, *args, **kwargs):
        return self.differentiable_loss(model, guide, *args, **kwargs)


def check_model_guide_match(model_trace, guide_trace):
    """Raises when latent sites of model and guide do not correspond.

    Raises:
        ValueError: naming a model latent the guide lacks, a guide site the model
            lacks, or a guide site with ``obs``.
    """
    model_latent = {
        n for n, s in model_trace.nodes.items() if s.type == "sample" and not s.is_observed
    }
    guide_sites = {n: s for n, s in guide_trace.nodes.items() if s.type == "sample"}
    for name, site in guide_sites.items():
        if site.is_observed:
            raise ValueError(
                f"guide site '{name}' has obs=...; a guide only samples latent sites, so "
                "drop obs in the guide (condition the model instead)"
            )
        if name not in model_trace.nodes:
            raise ValueError(
                f"guide site '{name}' does not exist in the model; rename it to match a model "
                f"latent site (model latents: {sorted(model_latent)})"
            )
    missing = sorted(model_latent - set(guide_sites))
    if missing:
        raise ValueError(
            f"model latent site(s) {missing} are not sampled by the guide; add "
            f"ppl.sample('{missing[0]}', ...) to the guide or observe the site in the model"
        )


def infer_max_plate_nesting(model, guide, args, kwargs):
    """The deepest vectorized plate nesting in one guide and model trace."""
    guide_trace = trace(guide).get_trace(*args, **kwargs)
    model_trace = trace(replay(model, trace=guide_trace)).get_trace(*args, **kwargs)
    deepest = 0
    for tr in (model_trace, guide_trace):
        for site in tr.nodes.values():
            for frame in site.cond_indep_stack:
                if frame.dim is not None:
                    deepest = max(deepest, -frame.dim)
    return deepest
