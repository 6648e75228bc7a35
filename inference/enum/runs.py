"""Tracing a guide and a model under enumeration, one run per sequential branch.

The guide runs under :class:`~ppl.handlers.enum.enum` from the first free dim;
the model replays the guide's values (its enumerated tensors included) under a
second ``enum`` that allocates further left, so model and guide variables
never share a dim. Sites marked ``infer={"enumerate": "sequential"}`` in the
guide are instead fixed to one support value per run: :func:`enum_traces`
yields one pair of traces per combination, each with the log-weight of its
values under the guide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from inference.elbo import check_model_guide_match
from ppl.handlers import enum, replay, trace
from ppl.runtime import Message, Messenger
from ppl.trace_struct import Trace

__all__ = ["enum_traces", "replayable"]

# Bookkeeping of the guide's markov/enum handlers that must not leak into the model run.
_PRIVATE = ("_markov_scope", "_markov_depth", "_enum_dims")


def replayable(guide_trace: Trace) -> Trace:
    """A copy of a guide trace without the guide's own markov/enum bookkeeping."""
    copy = guide_trace.copy()
    for site in copy.nodes.values():
        for key in _PRIVATE:
            site.infer.pop(key, None)
    return copy


class _sequential(Messenger):
    # Fixes sequential sites to the values of one branch; notes the first unfixed one.

    def __init__(self, fn: Callable[..., Any], fixed: dict[str, int]) -> None:
        super().__init__(fn)
        self.fixed = fixed
        self.pending: tuple[str, list[torch.Tensor]] | None = None

    def _process_sample(self, msg: Message) -> None:
        if msg.infer.get("enumerate") != "sequential" or msg.is_observed:
            return
        if msg.value is not None:
            return
        if msg.name in self.fixed:
            msg.value = self.fixed[msg.name]
            msg.done = True
        elif self.pending is None:
            self.pending = (msg.name, _support_values(msg))


def _support_values(msg: Message) -> list[torch.Tensor]:
    fn = msg.fn
    if fn.batch_shape.numel() != 1:
        raise ValueError(
            f"guide site '{msg.name}': sequential enumeration of a site with batch shape "
            f"{tuple(fn.batch_shape)} would need one run per combination of its "
            f"{fn.batch_shape.numel()} elements; use infer={{'enumerate': 'parallel'}}"
        )
    support = fn.enumerate_support(expand=True)
    return list(support)


def _check_model_sequential(model_trace: Trace, guide_trace: Trace) -> None:
    for name, site in model_trace.nodes.items():
        if (
            site.type == "sample"
            and not site.is_observed
            and name not in guide_trace.nodes
            and site.infer.get("enumerate") == "sequential"
        ):
            raise ValueError(
                f"model site '{name}' is marked for sequential enumeration, which only "
                "guides support; use infer={'enumerate': 'parallel'} in the model"
            )


def _without_model_enumerated(model_trace: Trace, guide_trace: Trace) -> Trace:
    # Sites enumerated in the model need no guide site: a view of the trace without them.
    view = Trace()
    view.nodes = {
        name: site
        for name, site in model_trace.nodes.items()
        if name in guide_trace.nodes or "_enum_dim" not in site.infer
    }
    return view


def _run(
    handler: Any,
    program: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    first_dim: int,
) -> Trace:
    try:
        return trace(program).get_trace(*args, **kwargs)
    except ValueError as e:
        if not handler.dims_used or "with plate '" not in str(e):
            raise
        # A plate at an enumeration dim fails inside the plate's own shape check.
        raise ValueError(
            f"{e}\nNote: enumeration uses dims {sorted(handler.dims_used, reverse=True)} "
            f"(from {first_dim} leftwards); a plate at one of them needs a larger "
            f"max_plate_nesting (at least {-first_dim})"
        ) from None


def _trace_pair(
    model: Callable[..., Any],
    guide: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    first_dim: int,
    fixed: dict[str, int],
) -> Any:
    guide_enum = enum(first_available_dim=first_dim)
    runner = _sequential(guide_enum(guide), fixed)
    guide_trace = _run(guide_enum, runner, args, kwargs, first_dim)
    if runner.pending is not None:
        return None, None, runner.pending
    model_dim = min(guide_enum.dims_used, default=first_dim + 1) - 1
    model_enum = enum(first_available_dim=model_dim)
    replayed = model_enum(replay(model, trace=replayable(guide_trace)))
    model_trace = _run(model_enum, replayed, args, kwargs, first_dim)
    _check_model_sequential(model_trace, guide_trace)
    try:
        check_model_guide_match(_without_model_enumerated(model_trace, guide_trace), guide_trace)
    except ValueError as e:
        if "not sampled by the guide" not in str(e):
            raise
        raise ValueError(
            f"{e}; or, for a discrete site, sum it out: mark it "
            "infer={'enumerate': 'parallel'} in the model (or wrap the model in "
            "config_enumerate)"
        ) from None
    model_trace.compute_log_prob()
    guide_trace.compute_log_prob()
    return model_trace, guide_trace, None


def _branch_log_weight(guide_trace: Trace, fixed: dict[str, int]) -> torch.Tensor:
    total = torch.zeros(())
    for name in fixed:
        site = guide_trace.nodes[name]
        total = total + site.unscaled_log_prob.sum()
    return total


def enum_traces(
    model: Callable[..., Any],
    guide: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    first_dim: int,
) -> Iterator[tuple[Trace, Trace, torch.Tensor]]:
    """Yields ``(model_trace, guide_trace, log_weight)`` for every sequential branch.

    Args:
        model, guide: the programs (already wrapped in a particle plate when
            particles are vectorized).
        args, kwargs: their arguments.
        first_dim: the rightmost dim enumeration may use.

    Yields:
        Traces with log-probabilities computed, and the guide's log-probability
        of the branch's sequential values (``0.`` without sequential sites).
    """
    queue: list[dict[str, int]] = [{}]
    while queue:
        fixed = queue.pop()
        model_trace, guide_trace, pending = _trace_pair(
            model, guide, args, kwargs, first_dim, fixed
        )
        if pending is not None:
            name, values = pending
            queue.extend({**fixed, name: value} for value in reversed(values))
            continue
        yield model_trace, guide_trace, _branch_log_weight(guide_trace, fixed)
