"""``JitTrace_ELBO``, ``JitTraceGraph_ELBO``, ``JitTraceMeanField_ELBO``: compiled SVI steps.

Each is its eager estimator (same surrogate, same credit rule, same
baselines). Used in :class:`~inference.SVI`, the **whole step** runs as one
compiled program (:mod:`inference.compiled_svi`): guide, model, log-densities,
surrogate and baselines, the backward pass, the data checks, the finiteness
check and the optimizer update, captured once per structure after an eager
warm-up step and compiled by inductor. A non-finite step changes nothing
(parameters, optimizer state, baseline averages); data that fail validation
make SVI rerun the step eagerly, which raises the eager error. A value-dependent
Python branch (``.item()``, ``if z:``) cannot be captured: the estimator then
runs eagerly with one :class:`CompileFallbackWarning` naming the cause.

``JitTraceGraph_ELBO`` and its graph. ``TraceGraph_ELBO`` records data flow
with a ``TorchFunctionMode``; the capture runs that same record on fake
tensors, so each compiled program carries the credit table of exactly the
operations it runs (no branch on a value can be in it, see above).

Called directly, :meth:`loss_and_grads` compiles only the forward loss
(:class:`~inference.compiled_step.CompiledLoss`, dynamo with ``fullgraph=True``;
the backward runs through AOTAutograd) after the eager warm-up of each
structure. Its data checks are tensor flags too: an estimate whose data fail
them is dropped and recomputed eagerly, which raises the eager error. The
credit table of a ``JitTraceGraph_ELBO`` loss compiled that way is the
warm-up's, which holds while dynamo's guards hold (``fullgraph=True`` puts
every branch under them); a recompile or a changed structure discards that
estimate and warms up again. ``differentiable_loss`` and ``loss`` stay eager.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import torch

import ppl
from inference.compiled_checks import data_checks
from inference.compiled_step import CompiledLoss, CompileFallbackWarning, args_key
from inference.compiled_svi import CompiledSVIStep, StepResult
from inference.elbo import ELBO
from inference.mean_field import TraceMeanField_ELBO
from inference.stochastic_graph import structure_key
from inference.surrogate import Cost
from inference.trace_elbo import Trace_ELBO, TraceGraph_ELBO
from inference.traces import Provenance
from ppl.runtime import Message
from ppl.trace_struct import Trace

__all__ = [
    "CompileFallbackWarning",
    "JitTraceGraph_ELBO",
    "JitTraceMeanField_ELBO",
    "JitTrace_ELBO",
]


class _CompiledSteps(ELBO):
    """The compiled ``loss_and_grads`` shared by the three estimators.

    A mixin placed before an eager estimator (``ELBO`` as its base only gives
    the method resolution order the estimator's: mixin, estimator, ``ELBO``).
    """

    #: Whether running the program in compiled pieces keeps the estimator's guarantees.
    pieces_are_sound = True

    def __init__(
        self, *args: Any, max_structures: int = 8, compile_pieces: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if compile_pieces and not self.pieces_are_sound:
            raise ValueError(
                f"{type(self).__name__}(compile_pieces=True): the data-flow graph of a "
                "warm-up step holds for later steps only in a full graph (a branch run "
                "between pieces escapes dynamo's guards); use compile_pieces=False, or "
                "JitTrace_ELBO(compile_pieces=True) if Trace_ELBO's credit rule will do"
            )
        self.compiled = CompiledLoss(
            type(self).__name__,
            self._forward,
            compile_pieces,
            max_structures,
            quiet=bool(self.options.get("ignore_jit_warnings", False)),
        )
        self.svi_steps = CompiledSVIStep(
            type(self).__name__,
            self._traced_loss,
            max_structures,
            quiet=bool(self.options.get("ignore_jit_warnings", False)),
        )
        self._captured_traces: list[Trace] | None = None
        self._check_data = False

    def svi_step(
        self, svi: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> StepResult | None:
        """One whole SVI step compiled (see :mod:`inference.compiled_svi`), or ``None`` for eager.

        Returns:
            A :class:`~inference.compiled_svi.StepResult`, or ``None`` when
            ``svi`` must take this step eagerly (a warm-up, a tripped data
            check, a fallback).
        """
        return self.svi_steps(svi, args, kwargs)

    def eager_loss_and_grads(
        self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> float:
        """The eager estimator's :meth:`loss_and_grads` (SVI's warm-up and fallback steps)."""
        return super().loss_and_grads(model, guide, *args, **kwargs)

    def _traced_loss(
        self,
        model: Callable[..., Any],
        guide: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> tuple[torch.Tensor, list[Trace]]:
        # The loss with every particle's traces (the compiled step checks them all).
        traces: list[Trace] = []
        self._captured_traces = traces
        try:
            loss = self.differentiable_loss(model, guide, *args, **kwargs)
            return loss, traces
        finally:
            self._captured_traces = None

    def _particle_loss(
        self, model_trace: Trace, guide_trace: Trace, prov: Provenance | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self._captured_traces is not None:
            self._captured_traces.extend((model_trace, guide_trace))
        return super()._particle_loss(model_trace, guide_trace, prov)

    def _forward(
        self,
        model: Callable[..., Any],
        guide: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        # Compiled with validation off (a host read would break the graph): the
        # data checks come back as a tensor flag instead (inference.compiled_checks).
        if not self._check_data:
            return self.differentiable_loss(model, guide, *args, **kwargs), None
        loss, traces = self._traced_loss(model, guide, args, kwargs)
        return loss, data_checks(traces)

    def _run_compiled(
        self,
        model: Callable[..., Any],
        guide: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> torch.Tensor | None:
        self._check_data = ppl.is_validation_enabled()
        out = self.compiled(model, guide, args, kwargs)
        if out is None:
            return None
        loss, valid = out
        if valid is not None and not bool(valid):
            # Invalid data: this estimate is dropped, and the eager one that
            # replaces it (validation on) raises the eager error.
            self.baselines.reject()
            return None
        return loss

    def _warm_state(self) -> dict[str, Any] | None:
        return None

    def _compiled_loss(
        self,
        model: Callable[..., Any],
        guide: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        key: Hashable,
    ) -> torch.Tensor | None:
        return self._run_compiled(model, guide, args, kwargs)

    def loss_and_grads(
        self, model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> float:
        """One step's loss and gradients: compiled once the structure is warm.

        Returns:
            The loss (``-ELBO`` estimate) as a float; the gradients are in the
            parameters' ``.grad``.
        """
        key = args_key(args, kwargs)
        loss = None
        if self.compiled.is_warm(key):
            # Committing the last step's baselines reads a flag on the host:
            # done here, the compiled estimate finds nothing staged.
            self.baselines.commit()
            loss = self._compiled_loss(model, guide, args, kwargs, key)
        if loss is None:
            loss = self.differentiable_loss(model, guide, *args, **kwargs)
            self.compiled.warmed(key, self._warm_state())
        if isinstance(loss, torch.Tensor) and loss.requires_grad:
            loss.backward()
        return float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)


class JitTrace_ELBO(_CompiledSteps, Trace_ELBO):
    """:class:`~inference.Trace_ELBO` whose SVI step runs compiled (inductor).

    In SVI the whole step is one compiled program: on eight schools it runs in
    about a tenth of the eager step's time (``benchmarks/RESULTS.md``), after a
    first step that captures and compiles it (tens of seconds on two cores).

    Args:
        max_structures: structures whose compiled step (and compiled loss) are
            kept; the least recently used leaves first.
        compile_pieces: when :meth:`loss_and_grads`, called directly, does not
            compile as one graph, compile it in pieces (``fullgraph=False``)
            instead of running eagerly. Off by default: pieces cost minutes to
            compile and often run slower than eager (issue 14 measured 17
            pieces at 2x the eager step). SVI steps never run in pieces.
        *args: as :class:`~inference.Trace_ELBO`.
        **kwargs: as :class:`~inference.Trace_ELBO`; ``ignore_jit_warnings=True``
            (Pyro's flag) falls back to eager without the warning.

    Example:
        >>> JitTrace_ELBO(num_particles=2).num_particles
        2
    """


class JitTraceMeanField_ELBO(_CompiledSteps, TraceMeanField_ELBO):
    """:class:`~inference.TraceMeanField_ELBO` whose SVI step runs compiled (inductor).

    Example:
        >>> JitTraceMeanField_ELBO().compiled.fullgraph
        True
    """


class JitTraceGraph_ELBO(_CompiledSteps, TraceGraph_ELBO):
    """:class:`~inference.TraceGraph_ELBO` whose SVI step runs compiled (inductor).

    Compiled steps reuse the credit table of their structure's eager warm-up
    (see the module docstring for why that is sound and when it is refreshed).

    Example:
        >>> JitTraceGraph_ELBO().compiled.allow_pieces
        False
    """

    pieces_are_sound = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._frozen_table: dict[str, frozenset[str]] | None = None

    def _warm_state(self) -> dict[str, Any]:
        # The warm-up estimate just run set last_traces.
        model_trace, guide_trace = self.last_traces  # type: ignore[misc]
        return {
            "table": dict(self._cache.table),
            "structure": structure_key(model_trace, guide_trace),
            "compiled": False,
        }

    def _credit(
        self,
        model_trace: Trace,
        guide_trace: Trace,
        prov: Provenance | None,
        scored: dict[str, Message],
    ) -> Callable[[Cost], frozenset[str]]:
        if prov is None and self._frozen_table is not None:
            table, every = self._frozen_table, frozenset(scored)
            # Intersected with this estimate's sites: a warm-up without score
            # sites leaves an older structure's table behind.
            return lambda cost: table.get(cost.node, every) & every
        return super()._credit(model_trace, guide_trace, prov, scored)

    def _compiled_loss(
        self,
        model: Callable[..., Any],
        guide: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        key: Hashable,
    ) -> torch.Tensor | None:
        state = self.compiled.structures[key]
        compiles = self.compiled.compiles
        self._frozen_table, self.needs_provenance = state["table"], False
        try:
            loss = self._run_compiled(model, guide, args, kwargs)
        finally:
            self._frozen_table = None
            del self.needs_provenance  # the class attribute (True) again
        if loss is None:
            return None
        recompiled = self.compiled.compiles != compiles
        stale = recompiled and state["compiled"]
        # The compiled estimate just run set last_traces.
        if stale or structure_key(*self.last_traces) != state["structure"]:  # type: ignore[misc]
            # The guards failed inside this structure, or its sites changed:
            # the warm-up's data flow may not hold, so this estimate is dropped.
            self.baselines.reject()
            return None
        state["compiled"] = state["compiled"] or recompiled
        return loss
