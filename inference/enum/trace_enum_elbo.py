"""``TraceEnum_ELBO``: the ELBO with discrete latent variables summed out exactly.

For a guide ``q`` and a model ``p``, sites marked
``infer={"enumerate": "parallel"}`` are summed over their support instead of
sampled. Model-enumerated variables ``m`` are marginalized inside the model,
guide-enumerated ones ``g`` are averaged over exactly, and the remaining
latents ``s`` are sampled:

    ELBO = E_{q(s)} [ sum_g q(g | s) ( log sum_m p(x, s, g, m) - log q(s, g) ) ]

The inner sum over ``m`` is variable elimination across plates
(:mod:`inference.enum.plated`); the sum over ``g`` uses the guide's exact
marginals (:mod:`inference.enum.expectation`). Gradients of the enumerated
parts are exact. Reparameterized sampled sites get pathwise gradients; each
non-reparameterized sampled site ``z`` adds the score-function surrogate
``log q(z) * stop_grad(cost)`` (Williams 1992; Foerster et al. 2018, "DiCE",
arXiv 1802.05098), where the cost is the particle's whole enumerated ELBO
restricted to ``z``'s own element of each vectorized plate it lives in: the
rest has expectation zero against the score, so the estimate is unbiased. The
loss returned is ``-(elbo + surrogate - stop_grad(surrogate))``: its value is
``-ELBO`` and its gradient the estimator's.

This is the estimator of Pyro's ``TraceEnum_ELBO`` (Obermeyer et al. 2019,
"Tensor Variable Elimination for Plated Factor Graphs", ICML).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

import ppl
from inference.elbo import infer_max_plate_nesting
from inference.enum.contract import multiply
from inference.enum.expectation import GuideMarginals, expect
from inference.enum.factors import enumerated_variables, plate_scales, site_factor
from inference.enum.marginals import compute_marginals
from inference.enum.plated import contract_plated, reduce_plates
from inference.enum.runs import enum_traces
from inference.objective import Objective
from ppl.runtime import Message
from ppl.trace_struct import Trace

__all__ = ["TraceEnum_ELBO", "enumerated_elbo"]

_PARTICLE_PLATE = "num_particles_vectorized"


def _sample_sites(tr: Trace, latent_only: bool = False) -> list[Message]:
    return [
        s for s in tr.nodes.values() if s.type == "sample" and not (latent_only and s.is_observed)
    ]


def _costs(model_trace: Trace, guide_trace: Trace, scales: Mapping[Any, Any]) -> Any:
    guide_vars = enumerated_variables(guide_trace)
    model_vars = {n: o for n, o in enumerated_variables(model_trace).items() if n not in guide_vars}
    factors = [site_factor(s, "model") for s in _sample_sites(model_trace)]
    try:
        costs = contract_plated(factors, set(model_vars), {**guide_vars, **model_vars}, scales)
    except ValueError as e:
        raise ValueError(f"TraceEnum_ELBO: {e}") from None
    log_q = {}
    for site in _sample_sites(guide_trace, latent_only=True):
        pf = site_factor(site, "guide")
        if site.name in guide_vars:
            # The weights are the guide's probabilities, whatever masks its cost.
            log_q[site.name] = site_factor(site, "guide", scaled=False, masked=False).factor
        pf.factor = type(pf.factor)(-pf.factor.tensor, pf.factor.dims)
        costs.append(pf)
    marginals = GuideMarginals(log_q)
    return [expect(pf.factor, marginals) for pf in costs], set(guide_vars)


def _score_sites(guide_trace: Trace, guide_vars: Mapping[str, frozenset[str]]) -> list[Message]:
    return [
        s
        for s in _sample_sites(guide_trace, latent_only=True)
        if s.name not in guide_vars
        and not getattr(s.fn, "has_rsample", False)
        and "_enum_dim" not in s.infer
        and s.infer.get("enumerate") != "sequential"  # fixed per branch, weighted exactly
    ]


def _credit(expected: Any, site: Message, scales: Mapping[Any, Any]) -> Any:
    # Every cost, summed over the plates the site is not in; element i of a plate
    # the site is in credits element i of the site (scaled like the cost it is).
    own = {f.name for f in site.cond_indep_stack if f.dim is not None}
    parts = []
    for f in expected:
        part = reduce_plates(f, [d for d in f.dims if d not in own], scales)
        tensor = part.tensor
        for d in part.dims:  # a kept plate's elements still carry its subsampling scale
            if scales.get(d, 1.0) != 1.0:
                tensor = tensor * scales[d]
        parts.append(type(part)(tensor, part.dims))
    return multiply(parts)


def enumerated_elbo(model_trace: Trace, guide_trace: Trace) -> Any:
    """The enumerated ELBO of one pair of traces, and its score-function surrogate.

    Args:
        model_trace, guide_trace: traces run under ``enum`` (see
            :func:`~inference.enum.runs.enum_traces`), log-probabilities computed.

    Returns:
        ``(elbo, surrogate)``: the ELBO (differentiable through enumerated and
        reparameterized sites) and the sum of score terms
        ``log q(z) * stop_grad(credit)`` of the other sampled sites.

    Example:
        >>> import torch, ppl
        >>> from distributions import Bernoulli
        >>> from inference.enum.runs import enum_traces
        >>> def model():
        ...     ppl.sample("z", Bernoulli(0.5), infer={"enumerate": "parallel"})
        >>> (model_trace, guide_trace, _), = enum_traces(model, lambda: None, (), {}, -1)
        >>> elbo, surrogate = enumerated_elbo(model_trace, guide_trace)
        >>> round(float(elbo), 6), float(surrogate)  # log(0.5 + 0.5); nothing sampled
        (0.0, 0.0)
    """
    scales = plate_scales(model_trace, guide_trace)
    expected, guide_vars = _costs(model_trace, guide_trace, scales)
    elbo = torch.zeros(())
    for f in expected:
        elbo = elbo + reduce_plates(f, f.dims, scales).tensor
    surrogate = torch.zeros(())
    for site in _score_sites(guide_trace, guide_vars):
        log_q = site_factor(site, "guide", scaled=False).factor
        credit = _credit(expected, site, scales)
        order = tuple(dict.fromkeys(log_q.dims + credit.dims))
        term = log_q.aligned(order) * credit.aligned(order).detach()
        surrogate = surrogate + term.sum()
    return elbo, surrogate


class TraceEnum_ELBO(Objective):
    """The ELBO with enumerated discrete sites summed exactly, in model and guide.

    Args:
        num_particles: Monte Carlo samples of the sampled (non-enumerated)
            sites averaged per estimate.
        max_plate_nesting: how many plate dims the model and guide use at most;
            enumeration dims start left of them. Inferred from one
            unenumerated run when ``None``.
        vectorize_particles: draw all particles in one pass, in a plate at dim
            ``-(max_plate_nesting + 1)`` (enumeration then starts one dim further
            left).
        **kwargs: accepted for compatibility with Pyro's constructor
            (``strict_enumeration_warning``, ``ignore_jit_warnings``, ...).

    Raises:
        ValueError: where exact summation is intractable, naming the sites.

    Example:
        >>> import torch, ppl
        >>> from distributions import Bernoulli, Normal
        >>> def model():
        ...     z = ppl.sample("z", Bernoulli(0.3), infer={"enumerate": "parallel"})
        ...     ppl.sample("x", Normal(2.0 * z, 1.0), obs=torch.tensor(1.5))
        >>> def guide():
        ...     pass
        >>> exact = torch.logsumexp(torch.stack([
        ...     torch.tensor(0.7).log() + Normal(0.0, 1.0).log_prob(torch.tensor(1.5)),
        ...     torch.tensor(0.3).log() + Normal(2.0, 1.0).log_prob(torch.tensor(1.5))]), 0)
        >>> abs(TraceEnum_ELBO(max_plate_nesting=0).loss(model, guide) + float(exact)) < 1e-6
        True
    """

    def __init__(
        self,
        num_particles: int = 1,
        max_plate_nesting: int | None = None,
        vectorize_particles: bool = False,
        **kwargs: Any,
    ) -> None:
        if not isinstance(num_particles, int) or num_particles < 1:
            raise ValueError(
                f"TraceEnum_ELBO: num_particles must be an int >= 1, got {num_particles!r}"
            )
        if max_plate_nesting is not None and (
            not isinstance(max_plate_nesting, int) or max_plate_nesting < 0
        ):
            raise ValueError(
                "TraceEnum_ELBO: max_plate_nesting must be a non-negative int (the deepest "
                f"plate nesting of the model), got {max_plate_nesting!r}"
            )
        self.num_particles = num_particles
        self.max_plate_nesting = max_plate_nesting
        self.vectorize_particles = vectorize_particles
        self.options = kwargs
        self.last_traces: tuple[Trace, Trace] | None = None

    def _first_dim(
        self,
        model: Callable[..., Any],
        guide: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> int:
        if self.max_plate_nesting is None:
            self.max_plate_nesting = infer_max_plate_nesting(model, guide, args, kwargs)
        return -(self.max_plate_nesting + 1)

    def _programs(
        self, model: Callable[..., Any], guide: Callable[..., Any], first_dim: int
    ) -> tuple[list[Any], int]:
        if not (self.vectorize_particles and self.num_particles > 1):
            return [(model, guide)] * self.num_particles, first_dim

        def wrap(fn: Callable[..., Any]) -> Any:
            def vectorized(*args: Any, **kwargs: Any) -> Any:
                with ppl.plate(_PARTICLE_PLATE, self.num_particles, dim=first_dim):
                    return fn(*args, **kwargs)

            return vectorized

        return [(wrap(model), wrap(guide))], first_dim - 1

    def _particle_loss(
        self,
        model: Callable[..., Any],
        guide: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        first_dim: int,
    ) -> torch.Tensor:
        total_elbo, total_surrogate = torch.zeros(()), torch.zeros(())
        for model_trace, guide_trace, log_weight in enum_traces(
            model, guide, args, kwargs, first_dim
        ):
            elbo, surrogate = enumerated_elbo(model_trace, guide_trace)
            weight = log_weight.exp()
            total_elbo = total_elbo + weight * elbo
            total_surrogate = total_surrogate + weight * (surrogate - surrogate.detach())
            self.last_traces = (model_trace, guide_trace)
        return -(total_elbo + total_surrogate)

    def differentiable_loss(
        self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> torch.Tensor:
        """The loss whose value is ``-ELBO`` and whose gradient is the estimator's."""
        programs, first_dim = self._programs(
            model, guide, self._first_dim(model, guide, args, kwargs)
        )
        total = torch.zeros(())
        for m, g in programs:
            total = total + self._particle_loss(m, g, args, kwargs, first_dim)
        return total / self.num_particles

    def compute_marginals(
        self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> dict[str, Any]:
        """Posterior marginals of the model-enumerated sites given one guide draw.

        Returns:
            ``site name -> Categorical`` over the positions of each site's
            support, batched over its plates (see
            :func:`~inference.enum.marginals.compute_marginals`).
        """
        first_dim = self._first_dim(model, guide, args, kwargs)
        return compute_marginals(model, guide, args, kwargs, first_dim)
