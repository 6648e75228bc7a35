"""Running a model/guide pair: trace the guide, replay the model against it.

Every estimator, the graph builder and the plate-nesting probe run the pair
the same way, so it is written once here. With ``provenance=True`` both runs
happen under one :class:`~inference.provenance.ProvenanceMode`, which records
the data flow the stochastic computation graph is built from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from inference.provenance import ProvenanceMessenger, ProvenanceMode
from ppl.handlers import replay, trace
from ppl.trace_struct import Trace

__all__ = ["Provenance", "trace_pair"]


@dataclass(eq=False)
class Provenance:
    """What one provenance pass saw, per program (``"model"`` and ``"guide"``).

    Attributes:
        parents: program -> site name -> frozenset of source site names.
        order: program -> sample site names in program order.
        leaks: program -> list of ``(sources, position)``: values that left torch
            after ``position`` sample sites of that program had run.
    """

    parents: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)
    order: dict[str, list[str]] = field(default_factory=dict)
    leaks: dict[str, list[tuple[frozenset[str], int]]] = field(default_factory=dict)

    def signature(self) -> tuple[Any, ...]:
        """A hashable summary: equal signatures give the same graph."""
        return tuple(
            (
                program,
                tuple(self.parents[program].items()),
                tuple(self.order[program]),
                tuple((frozenset(s), p) for s, p in self.leaks[program]),
            )
            for program in ("guide", "model")
        )


def trace_pair(
    model: Callable[..., Any],
    guide: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    provenance: bool = False,
) -> tuple[Trace, Trace, Provenance | None]:
    """Traces ``guide``, then ``model`` replayed against the guide's values.

    Args:
        model: the model function.
        guide: the guide function.
        args: positional arguments for both.
        kwargs: keyword arguments for both.
        provenance: also record data flow (:class:`Provenance`).

    Returns:
        ``(model_trace, guide_trace, provenance)``; the last is ``None`` unless asked.

    Example:
        >>> import torch, ppl
        >>> from distributions import Normal
        >>> def model():
        ...     z = ppl.sample("z", Normal(0.0, 1.0))
        ...     ppl.sample("x", Normal(z, 1.0), obs=torch.tensor(0.5))
        >>> guide = lambda: ppl.sample("z", Normal(1.0, 1.0))
        >>> model_trace, guide_trace, prov = trace_pair(model, guide, (), {}, provenance=True)
        >>> prov.parents["model"]["x"]
        frozenset({'z'})
    """
    if not provenance:
        guide_trace = trace(guide).get_trace(*args, **kwargs)
        model_trace = trace(replay(model, trace=guide_trace)).get_trace(*args, **kwargs)
        return model_trace, guide_trace, None
    record = Provenance()
    mode = ProvenanceMode()
    with mode:
        guide_trace = _run(guide, args, kwargs, mode, record, "guide")
        model_trace = _run(replay(model, trace=guide_trace), args, kwargs, mode, record, "model")
    return model_trace, guide_trace, record


def _run(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    mode: ProvenanceMode,
    record: Provenance,
    program: str,
) -> Trace:
    mode.leaks, mode.position, mode.sampling = [], 0, 0
    tracker = ProvenanceMessenger(mode)
    with trace() as tr, tracker:
        fn(*args, **kwargs)
    record.parents[program] = tracker.parents
    record.order[program] = tracker.order
    record.leaks[program] = mode.leaks
    return tr.trace
