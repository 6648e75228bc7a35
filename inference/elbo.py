"""``ELBO``: particles, vectorization and model/guide checks shared by every estimator.

An estimator is one *credit rule*: which score-function guide sites may
change each cost term (:meth:`ELBO._credit`). Everything else -- tracing and
replay (:func:`inference.traces.trace_pair`), particle averaging, the DiCE
surrogate (:mod:`inference.surrogate`), baselines -- is here once.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Iterator
from typing import Any

import torch

import ppl
from distributions.tensor_records import held_records
from inference.baselines import Baselines
from inference.dreg import stop_params
from inference.guide_checks import check_model_guide
from inference.stochastic_graph import is_score_site
from inference.surrogate import Cost, combine, site_costs, surrogate_loss
from inference.traces import Provenance, trace_pair
from ppl.handlers import replay, trace
from ppl.runtime import Message
from ppl.trace_struct import Trace

__all__ = ["ELBO", "check_model_guide_match", "infer_max_plate_nesting"]

_PARTICLE_PLATE = "num_particles_vectorized"


class ELBO(abc.ABC):
    """Base of the ELBO estimators.

    The loss value is ``-ELBO``: the sum over model sites of scaled, masked
    ``log p`` minus the sum over guide sites of scaled, masked ``log q``
    (``mask``/``scale`` handlers and ``.mask()`` apply to guide sites as to
    model sites). Its gradient is unbiased, of every order (DiCE; see
    :mod:`inference.surrogate`). A masked or scaled guide site keeps its
    score-function term: its draw still drives the costs downstream.

    Args:
        num_particles: Monte Carlo samples averaged per estimate.
        max_plate_nesting: how many plate dims the model uses at most; inferred
            from one trace when ``None`` (needed for ``vectorize_particles``).
        vectorize_particles: draw all particles in one pass inside an outer
            plate at dim ``-(max_plate_nesting + 1)``.
        stick_the_landing: score reparameterized guide sites with their
            parameters held fixed, ``log q_stop(phi)(z(phi))`` (Roeder et al. 2017,
            "Sticking the Landing", arXiv 1703.09194): the dropped term has mean
            zero, so the first-order gradient stays unbiased, and it vanishes when
            the guide equals the posterior. Guide parameters must come from
            ``ppl.param``/``ppl.module``; higher derivatives are not those of the ELBO.
        **kwargs: accepted for compatibility with Pyro's constructors
            (``strict_enumeration_warning``, ``ignore_jit_warnings``, ...).
    """

    #: Whether the credit rule needs the data-flow record of each estimate.
    needs_provenance = False

    def __init__(
        self,
        num_particles: int = 1,
        max_plate_nesting: int | None = None,
        vectorize_particles: bool = False,
        stick_the_landing: bool = False,
        **kwargs: Any,
    ) -> None:
        if num_particles < 1:
            raise ValueError(f"num_particles must be >= 1, got {num_particles}")
        self.num_particles = num_particles
        self.max_plate_nesting = max_plate_nesting
        self.vectorize_particles = vectorize_particles
        self.stick_the_landing = stick_the_landing
        self.options = kwargs
        self.baselines = Baselines()
        self.last_traces: tuple[Trace, Trace] | None = None
        self._combine: Callable[..., tuple[torch.Tensor, torch.Tensor]] = combine
        self._expect_scores = True
        self._checked: set[tuple[Any, ...]] = set()

    # ----------------------------------------------------------- particles
    def _nesting(
        self,
        model: Callable[..., Any],
        guide: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> int:
        if self.max_plate_nesting is None:
            self.max_plate_nesting = infer_max_plate_nesting(model, guide, args, kwargs)
        return self.max_plate_nesting

    def _wrap(self, fn: Callable[..., Any], dim: int) -> Callable[..., Any]:
        def vectorized(*args: Any, **kwargs: Any) -> Any:
            with ppl.plate(_PARTICLE_PLATE, self.num_particles, dim=dim):
                return fn(*args, **kwargs)

        return vectorized

    def _traces(
        self,
        model: Callable[..., Any],
        guide: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> tuple[Trace, Trace, Provenance | None]:
        # Data flow matters only for score-function sites: a guide that had none
        # last time runs untracked, and is run again tracked if it now has some.
        tracked = self.needs_provenance and self._expect_scores
        model_trace, guide_trace, prov = trace_pair(model, guide, args, kwargs, tracked)
        if self.needs_provenance:
            self._expect_scores = _has_score_sites(guide_trace)
            if self._expect_scores and prov is None:
                model_trace, guide_trace, prov = trace_pair(model, guide, args, kwargs, True)
        self._check_structure(model_trace, guide_trace)
        model_trace.compute_log_prob()
        guide_trace.compute_log_prob()
        if self.stick_the_landing:
            _fixed_parameter_log_probs(guide, args, kwargs, guide_trace)
        return model_trace, guide_trace, prov

    def _check_structure(self, model_trace: Trace, guide_trace: Trace) -> None:
        # Whether the latent sites correspond, and (with validation on) the plate
        # checks, read only names, types, obs flags, shapes, plates and masks: a
        # pair with the same of all of those as a pair that passed passes again.
        if not ppl.is_validation_enabled():
            check_model_guide_match(model_trace, guide_trace)
            return
        nesting = math.inf if self.max_plate_nesting is None else self.max_plate_nesting
        # The model's node names: a guide site may match a model node of any type.
        key = (nesting, tuple(model_trace.nodes), _shape_key(model_trace), _shape_key(guide_trace))
        if key in self._checked:
            return
        check_model_guide_match(model_trace, guide_trace)
        check_model_guide(model_trace, guide_trace, nesting)
        if len(self._checked) >= _CHECKED_LIMIT:
            self._checked.clear()
        self._checked.add(key)

    def _particles(
        self,
        model: Callable[..., Any],
        guide: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Iterator[tuple[Trace, Trace, Provenance | None]]:
        """Yields ``(model_trace, guide_trace, provenance)`` per particle."""
        if self.vectorize_particles and self.num_particles > 1:
            dim = -(self._nesting(model, guide, args, kwargs) + 1)
            model, guide = self._wrap(model, dim), self._wrap(guide, dim)
            self.baselines.particle_dim, self.baselines.num_particles = dim, self.num_particles
            yield self._traces(model, guide, args, kwargs)
            return
        self.baselines.particle_dim, self.baselines.num_particles = None, 1
        for _ in range(self.num_particles):
            yield self._traces(model, guide, args, kwargs)

    # ------------------------------------------------------------ estimator
    @abc.abstractmethod
    def _credit(
        self,
        model_trace: Trace,
        guide_trace: Trace,
        prov: Provenance | None,
        scored: dict[str, Message],
    ) -> Callable[[Cost], frozenset[str]]:
        """The credit rule: returns ``Cost -> frozenset`` of ``scored`` names that may change it."""

    def _costs(self, model_trace: Trace, guide_trace: Trace) -> list[Cost]:
        """The cost terms of one particle (estimators may rewrite them)."""
        costs = site_costs(model_trace, guide_trace)
        if self.stick_the_landing:
            for cost in costs:
                fixed = cost.site.infer.get("_stl_log_prob") if cost.node[0] == "g" else None
                if fixed is not None:
                    cost.value = -fixed
        return costs

    def _particle_loss(
        self, model_trace: Trace, guide_trace: Trace, prov: Provenance | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        scored = {
            n: s for n, s in guide_trace.nodes.items() if s.type == "sample" and is_score_site(s)
        }
        costs = self._costs(model_trace, guide_trace)
        credit = self._credit(model_trace, guide_trace, prov, scored)
        return surrogate_loss(costs, scored, credit, self.baselines, self._combine)

    def differentiable_loss(
        self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> torch.Tensor:
        """The loss whose value is ``-ELBO`` and whose derivatives are the estimator's."""
        self.baselines.commit()
        # Validation's records of this evaluation's draws and parameter values
        # hold them strongly until it ends (no weak reference per record).
        with held_records():
            if self.num_particles == 1:
                # One particle: what _particles yields once, without the generator and the stack.
                self.baselines.particle_dim, self.baselines.num_particles = None, 1
                model_trace, guide_trace, prov = self._traces(model, guide, args, kwargs)
                loss = self._particle_loss(model_trace, guide_trace, prov)[0]
                self.last_traces = (model_trace, guide_trace)
                return loss
            losses = []
            for model_trace, guide_trace, prov in self._particles(model, guide, args, kwargs):
                losses.append(self._particle_loss(model_trace, guide_trace, prov)[0])
                self.last_traces = (model_trace, guide_trace)
        total = losses[0] if len(losses) == 1 else torch.stack(losses).sum()
        # A vectorized estimate is one trace of num_particles particles, summed.
        return total if self.num_particles == 1 else total / self.num_particles

    def loss(
        self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> float:
        """The ``-ELBO`` estimate as a float (no gradients, baselines not updated)."""
        self.baselines.update = False
        try:
            with torch.no_grad():
                return float(self.differentiable_loss(model, guide, *args, **kwargs))
        finally:
            self.baselines.update = True

    def loss_and_grads(
        self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> float:
        """Computes the loss, backpropagates into the parameters, returns the loss as a float."""
        loss = self.differentiable_loss(model, guide, *args, **kwargs)
        if isinstance(loss, torch.Tensor) and loss.requires_grad:
            loss.backward()
        return float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)

    def reject_step(self) -> None:
        """Forgets the baseline state the last estimate staged (its step was skipped)."""
        self.baselines.reject()

    def __call__(
        self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> torch.Tensor:
        return self.differentiable_loss(model, guide, *args, **kwargs)


_CHECKED_LIMIT = 64


_NO_HINTS = (False, None, None)


def _shape_key(trace: Trace) -> tuple[Any, ...]:
    """What the structure checks read of a trace's sample sites, as a hashable tuple."""
    key: list[tuple[Any, ...]] = []
    append = key.append
    for name, site in trace.nodes.items():
        if site.type != "sample":
            continue  # the checks read sample sites only
        fn, value, infer = site.fn, site.value, site.infer
        sample_shape = site.kwargs.get("sample_shape", ())
        # Most sites carry no inference hints: one truth test instead of four reads.
        hints = (
            (
                bool(_is_density_site(site)),
                tuple(infer["_enum_dims"]) if "_enum_dims" in infer else None,
                infer.get("_enum_dim"),
            )
            if infer
            else _NO_HINTS
        )
        append(
            (
                name,
                site.is_observed,
                site.mask is False,
                getattr(fn, "batch_shape", None),
                getattr(fn, "event_shape", None),
                value.shape if isinstance(value, torch.Tensor) else None,
                sample_shape if type(sample_shape) is not list else tuple(sample_shape),
                site.cond_indep_stack,
                hints,
            )
        )
    return tuple(key)


def _fixed_parameter_log_probs(
    guide: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], guide_trace: Trace
) -> None:
    # The guide again at the same draws with every parameter detached: its
    # reparameterized sites' log q then depends on the parameters only through z.
    fixed = trace(replay(stop_params(guide), trace=guide_trace)).get_trace(*args, **kwargs)
    fixed.compute_log_prob()
    for name, site in guide_trace.iter_stochastic_nodes():
        if getattr(site.fn, "has_rsample", False) and name in fixed.nodes:
            site.infer["_stl_log_prob"] = fixed.nodes[name].log_prob


def _has_score_sites(guide_trace: Trace) -> bool:
    return any(s.type == "sample" and is_score_site(s) for s in guide_trace.nodes.values())


def _is_density_site(site: Message) -> Any:
    # Guide sites with obs=... that still belong in a guide: deterministic
    # records and factors (auxiliary Unit sites).
    return site.infer.get("_deterministic") or site.infer.get("is_auxiliary")


def check_model_guide_match(model_trace: Trace, guide_trace: Trace) -> None:
    """Raises when latent sites of model and guide do not correspond.

    Raises:
        ValueError: naming a model latent the guide lacks, a guide site the model
            lacks, or a guide site with ``obs``.
    """
    model_latent = {
        n for n, s in model_trace.nodes.items() if s.type == "sample" and not s.is_observed
    }
    guide_sites = {
        n: s for n, s in guide_trace.nodes.items() if s.type == "sample" and not _is_density_site(s)
    }
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


def infer_max_plate_nesting(
    model: Callable[..., Any],
    guide: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> int:
    """The deepest vectorized plate nesting in one guide and model trace."""
    model_trace, guide_trace, _ = trace_pair(model, guide, args, kwargs)
    deepest = 0
    for tr in (model_trace, guide_trace):
        for site in tr.nodes.values():
            for frame in site.cond_indep_stack:
                if frame.dim is not None:
                    deepest = max(deepest, -frame.dim)
    return deepest
