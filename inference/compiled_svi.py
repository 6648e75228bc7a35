"""``CompiledSVIStep``: a whole SVI step as one compiled program of tensors.

After one eager warm-up step of a structure (which creates the parameters,
the optimizer state and the baselines, and validates the program), the step
is captured once with ``make_fx`` in fake-tensor mode and compiled by
inductor. The captured program is a function of tensors only::

    (unconstrained params, baseline averages, data, optimizer state, rates)
        -> [loss, data valid, step finite, per-param finite, per-site finite]

Inside it: guide and model through the effect handlers, log-densities, the
estimator's surrogate and baselines, ``torch.autograd.grad`` (the backward
pass is traced into the same graph), the data checks of
:mod:`inference.compiled_checks`, each parameter's clipped functional
optimizer update (:mod:`inference.compiled_optim`), and the writes of new
parameters, states and averages into the input tensors, each behind
``torch.where(accept, new, old)``: a non-finite or invalid step changes
nothing. One small tensor comes back to the host per step.

What the capture assumes static, and how a change is detected:

* Python control flow of model, guide and estimator. Fake tensors have no
  values, so a branch on a value (``.item()``, ``if z:``) cannot be captured:
  it fails the capture and the estimator falls back to eager with one
  :class:`CompileFallbackWarning`. Every other Python value the program reads
  is part of the structure key or fixed for the program's lifetime: the key
  holds model, guide and optimizer identities, argument shapes, dtypes and
  non-tensor values (:func:`~inference.compiled_step.args_key`), the
  validation switches, and the parameter store.
* The tensors it reads. Parameters, baseline averages, optimizer state and
  arguments are inputs; the identity of each parameter and state tensor is
  checked on every call (a cleared store, ``set_state``), and a changed one
  warms the structure up again. Any other tensor the program closes over
  (a global) is a constant of the capture, watched by
  :class:`~inference.capture_assumptions.CaptureAssumptions`: changed in
  place, or rebound as one of the model's or guide's own names, it makes the
  structure capture again (three times at most, then eager with a warning).
* Learning rates are inputs, so schedules need no recompilation.

Random draws come from torch's generator (inductor's ``fallback_random``):
a seed gives the same losses run to run.
"""

from __future__ import annotations

import collections
import re
import warnings
from collections.abc import Callable, Hashable, Sequence
from typing import Any, NamedTuple

import torch
from torch.autograd.graph import increment_version
from torch.fx.experimental.proxy_tensor import make_fx
from torch.overrides import TorchFunctionMode
from torch.utils import _pytree as pytree

import ppl
from distributions import Distribution
from inference.capture_assumptions import CaptureAssumptions
from inference.compiled_checks import data_checks, site_finiteness
from inference.compiled_optim import (
    clip_gradient,
    finish_group,
    functional_update,
    host_update,
    step_rate,
)
from inference.compiled_step import CompileFallbackWarning, args_key, validation_off
from ppl.handlers import trace
from ppl.trace_struct import Trace

__all__ = ["CompiledSVIStep", "StepResult"]


class StepResult(NamedTuple):
    """What a compiled step reports: its loss, whether it was applied, and what was not finite."""

    loss: float
    finite: bool
    bad_params: list[str]
    bad_sites: list[str]


class _NotReady(Exception):
    """The warm-up did not create everything the step needs yet (warm up again)."""


class _Substitute(TorchFunctionMode):
    # Every torch call that receives one of the real tensors (by identity) gets
    # its traced stand-in instead: parameters read from the store, a module's
    # own nn.Parameter, baseline averages held by Python objects.
    def __init__(self, table: dict[int, torch.Tensor]) -> None:
        super().__init__()
        self.table = table

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        table = self.table

        def swap(x: torch.Tensor) -> torch.Tensor:
            return table.get(id(x), x)

        args = pytree.tree_map_only(torch.Tensor, swap, args)
        kwargs = pytree.tree_map_only(torch.Tensor, swap, kwargs or {})
        return func(*args, **kwargs)


def _anchors(svi: Any) -> tuple[Any, ...]:
    return svi.model, svi.guide, svi.optim, ppl.get_param_store()


def _structure_key(svi: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Hashable:
    return (
        id(svi.model),
        id(svi.guide),
        id(svi.optim),
        id(ppl.get_param_store()),
        ppl.is_validation_enabled(),
        Distribution._validate_args,
        args_key(args, kwargs),
        _strides(args, kwargs),
    )


def _strides(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[int, ...], ...]:
    # The captured program is compiled for its inputs' strides (inductor asserts
    # them on every call): the same shape laid out otherwise (a transpose, a
    # strided slice) is another structure, not an AssertionError from inductor.
    return tuple(x.stride() for x in _tensor_leaves(args, kwargs))


def _tensor_leaves(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[torch.Tensor]:
    """The tensors among the leaves of ``(args, kwargs)``, in pytree order.

    The common call, tensors passed positionally, takes no pytree traversal:
    two per compiled step were a tenth of an eight-schools step's host time.
    """
    if not kwargs:
        for x in args:
            if not isinstance(x, torch.Tensor):
                break
        else:
            return list(args)
    leaves = pytree.tree_leaves((tuple(args), dict(kwargs)))
    return [x for x in leaves if isinstance(x, torch.Tensor)]


class _Layout:
    """The real tensors behind each input of a captured program, in order."""

    def __init__(self, svi: Any, elbo: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        store = ppl.get_param_store()
        self.store = store
        self.names = list(store.keys())
        self.leaves = [store.get_unconstrained(n) for n in self.names]
        self.optim = svi.optim
        torch_opt = getattr(svi.optim, "optimizer", None)
        if not hasattr(svi.optim, "_names") or (torch_opt is None and self.leaves):
            raise _NotReady("the optimizer has no parameters yet")
        # Both None only when there are no parameters, and then no update runs.
        self.torch_opt: Any = torch_opt
        self.optim_cls: Any = type(torch_opt) if torch_opt is not None else None
        self.baselines = elbo.baselines
        self.baselines.commit()  # the warm-up's staged averages, read on the host here
        self.averages = list(self.baselines.averages.items())
        data, self.spec = pytree.tree_flatten((tuple(args), dict(kwargs)))
        self.data_mask = [isinstance(x, torch.Tensor) for x in data]
        self.static_data = [None if m else x for x, m in zip(data, self.data_mask)]
        self.data = [x for x in data if isinstance(x, torch.Tensor)]
        self.state = self._state_layout()

    def _state_layout(self) -> list[tuple[int, str, torch.Tensor | None]]:
        # (leaf index, key, tensor or None for a host number) per state entry.
        out: list[tuple[int, str, torch.Tensor | None]] = []
        for i, p in enumerate(self.leaves):
            if self.torch_opt is None or p not in self.torch_opt.state:
                continue
            for key, value in sorted(self.torch_opt.state[p].items()):
                out.append((i, key, value if isinstance(value, torch.Tensor) else None))
        return out

    def group_of(self, p: torch.Tensor) -> int:
        return self.optim._group_index(p)

    def inputs(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[torch.Tensor] | None:
        """The program's inputs for this call, or ``None`` when a tensor was replaced."""
        store = ppl.get_param_store()
        if store is not self.store or len(store) != len(self.names):
            return None
        for name, leaf in zip(self.names, self.leaves):
            if name not in store or store.get_unconstrained(name) is not leaf:
                return None
        state = self.torch_opt.state if self.torch_opt is not None else {}
        dynamic = []
        for i, key, tensor in self.state:
            value = state.get(self.leaves[i], {}).get(key)
            if tensor is not None and value is not tensor:
                return None
            dynamic.append(tensor if tensor is not None else _host_number(value))
        groups = self.torch_opt.param_groups if self.torch_opt is not None else []
        rates = [_host_number(step_rate(self.optim_cls, g)) for g in groups]
        data = _tensor_leaves(args, kwargs)
        # An eager step in between (a warm-up elsewhere, a rerun) staged or
        # replaced averages: commit them, and pass the current tensors.
        self.baselines.commit()
        current = self.baselines.averages
        if any(name not in current for name, _ in self.averages):
            return None
        averages = [current[name] for name, _ in self.averages]
        if any(a.shape != b.shape for a, (_, b) in zip(averages, self.averages)):
            return None
        return [*self.leaves, *averages, *data, *dynamic, *rates]

    def mutated(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        """The inputs the program writes: parameters, baseline averages, optimizer state."""
        n_leaves, n_averages, n_data, n_state, _ = self.counts()
        state_start = n_leaves + n_averages + n_data
        return [*inputs[: n_leaves + n_averages], *inputs[state_start : state_start + n_state]]

    def counts(self) -> tuple[int, int, int, int, int]:
        groups = len(self.torch_opt.param_groups) if self.torch_opt is not None else 0
        data = sum(self.data_mask)
        return len(self.leaves), len(self.averages), data, len(self.state), groups


def _host_number(value: Any) -> torch.Tensor:
    return torch.tensor(float(value), dtype=torch.float64)


def _split(flat: Sequence[Any], counts: Sequence[int]) -> list[list[Any]]:
    out: list[list[Any]] = []
    start = 0
    for n in counts:
        out.append(list(flat[start : start + n]))
        start += n
    return out


class _Program:
    """One structure's captured and compiled step."""

    # Set by CompiledSVIStep._build once the program exists.
    anchors: tuple[Any, ...]
    assumptions: CaptureAssumptions

    def __init__(
        self,
        layout: _Layout,
        compiled: Callable[..., Any],
        param_names: list[str],
        site_names: list[str],
    ) -> None:
        self.updated = [layout.names.index(n) for n in param_names]
        self.layout = layout
        self.compiled = compiled
        self.param_names = param_names
        self.site_names = site_names

    def run(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> StepResult | None:
        inputs = self.layout.inputs(args, kwargs)
        if inputs is None:
            return None
        with torch.no_grad():
            values = self.compiled(*inputs).tolist()
        # The kernels write parameters, baseline averages and optimizer state
        # in place without touching their version counters; bumped here as an
        # eager in-place update would, so autograd still refuses a graph that
        # saved an old value and version-keyed records (validation) see a change.
        increment_version(self.layout.mutated(inputs))
        loss, valid, finite = values[0], values[1] > 0, values[2] > 0
        if not valid:
            return None  # SVI reruns the step eagerly with validation on
        if finite:
            self._finish_host()
        n = len(self.param_names)
        bad_params = [p for p, ok in zip(self.param_names, values[3 : 3 + n]) if not ok]
        bad_sites = [s for s, ok in zip(self.site_names, values[3 + n :]) if not ok]
        return StepResult(loss, finite, bad_params, sorted(bad_sites))

    def _finish_host(self) -> None:
        layout = self.layout
        if layout.torch_opt is None:
            return
        for group in layout.torch_opt.param_groups:
            finish_group(layout.optim_cls, group)
        for i in self.updated:  # as torch's step: the parameters with a gradient
            host_update(layout.optim_cls, layout.torch_opt.state[layout.leaves[i]], {})


class _Capture:
    """Builds the function of tensors that ``make_fx`` traces for one structure."""

    def __init__(self, layout: _Layout, svi: Any, run_loss: Any) -> None:
        self.layout = layout
        self.svi = svi
        self.run_loss = run_loss  # a bound method: its __self__ is the estimator
        self.param_names: list[str] = []
        self.site_names: list[str] = []
        self.validate = ppl.is_validation_enabled()

    def __call__(self, *flat: torch.Tensor) -> torch.Tensor:
        layout = self.layout
        leaves, averages, data, dynamic, rates = _split(flat, layout.counts())
        # A frozen parameter (requires_grad=False) gets no gradient, as in eager.
        differentiable = [
            x.detach().requires_grad_(real.requires_grad) for x, real in zip(leaves, layout.leaves)
        ]
        table = {id(real): t for real, t in zip(layout.leaves, differentiable)}
        table.update({id(real): t for (_, real), t in zip(layout.averages, averages)})
        table.update({id(real): t for real, t in zip(layout.data, data)})
        loss, traces, captured = self._run_program(table, data)
        used = [
            i
            for i, n in enumerate(layout.names)
            if n in captured and layout.leaves[i].requires_grad
        ]
        grads = _grads(loss, [differentiable[i] for i in used])
        flags = [torch.isfinite(g).all() for g in grads if g is not None]
        finite = torch.stack([torch.isfinite(loss).all(), *flags]).all()
        # Distributions keep the tensors they were given: a parameter the store
        # returned as itself is the real leaf there, swapped for its stand-in
        # only inside torch calls, so the checks run under the substitution too
        # (read directly, the leaf would become a constant of the graph).
        with _Substitute(table):
            valid = data_checks(traces) if self.validate else torch.tensor(True)
            self.site_names, site_flags = site_finiteness(traces)
        accept = finite & valid
        with torch.no_grad():
            self._update(leaves, dynamic, rates, used, grads, accept)
            self._commit_baselines(averages, accept)
        self.param_names = [layout.names[i] for i, g in zip(used, grads) if g is not None]
        out = [loss.detach(), valid, finite, *flags, *site_flags]
        return torch.stack([torch.as_tensor(x).to(loss.dtype) for x in out])

    def _run_program(
        self, table: dict[int, torch.Tensor], data: list[torch.Tensor]
    ) -> tuple[torch.Tensor, list[Trace], set[str]]:
        layout, stand_ins = self.layout, iter(data)
        full = [next(stand_ins) if m else s for m, s in zip(layout.data_mask, layout.static_data)]
        args, kwargs = pytree.tree_unflatten(full, layout.spec)
        with _Substitute(table), trace(param_only=True) as capture:
            loss, traces = self.run_loss(self.svi.model, self.svi.guide, args, kwargs)
        store = ppl.get_param_store()
        new = [name for name in store.keys() if name not in set(layout.names)]
        if new:
            # Created during the capture, it holds a fake tensor: the eager warm-up
            # must create it for real.
            for name in new:
                del store[name]
            raise _NotReady(f"parameter '{new[0]}' was created after the warm-up")
        if not isinstance(loss, torch.Tensor):
            raise _NotReady("the loss is not a tensor")
        captured = {n for n, s in capture.trace.nodes.items() if s.type == "param"}
        return loss, traces, captured

    def _update(
        self,
        leaves: list[torch.Tensor],
        dynamic: list[torch.Tensor],
        rates: list[torch.Tensor],
        used: list[int],
        grads: list[torch.Tensor | None],
        accept: torch.Tensor,
    ) -> None:
        layout = self.layout
        entries: collections.defaultdict[int, dict[str, torch.Tensor]] = collections.defaultdict(
            dict
        )
        for (i, key, _), value in zip(layout.state, dynamic):
            entries[i][key] = value
        for i, grad in zip(used, grads):
            if grad is None:
                continue
            p = layout.leaves[i]
            if id(p) not in layout.optim._names:
                raise _NotReady(f"parameter '{layout.names[i]}' joined after the warm-up")
            group_index = layout.group_of(p)
            group = layout.torch_opt.param_groups[group_index]
            grad = clip_gradient(grad, _clip_args(layout.optim, p))
            update = functional_update(layout.optim_cls)
            new, state = update(leaves[i], grad, entries[i], group, rates[group_index])
            leaves[i].copy_(torch.where(accept, new, leaves[i]))
            for key, value in state.items():
                if key not in entries[i]:
                    raise _NotReady(f"optimizer state '{key}' of '{layout.names[i]}' is new")
                old = entries[i][key]
                old.copy_(torch.where(accept, value.to(old.dtype), old))

    def _commit_baselines(self, averages: list[torch.Tensor], accept: torch.Tensor) -> None:
        baselines = self.run_loss.__self__.baselines
        index = {name: k for k, (name, _) in enumerate(self.layout.averages)}
        staged, baselines.staged = baselines.staged, {}
        for name, value in staged.items():
            if name not in index:
                raise _NotReady(f"baseline average of '{name}' is new")
            old = averages[index[name]]
            keep = accept & torch.isfinite(value).all()
            old.copy_(torch.where(keep, value, old))


def _drop_host_reads(graph: torch.fx.GraphModule) -> None:
    # A fake tensor made from a closed-over constant knows its value, so an
    # ``.item()`` on it is answered at capture time and recorded as a host read
    # whose result the graph never uses (the Python branch it fed is already
    # taken). Reads of inputs cannot be answered: they fail the capture instead.
    for node in list(graph.graph.nodes):
        if node.target is torch.ops.aten._local_scalar_dense.default and not node.users:
            graph.graph.erase_node(node)
    graph.recompile()


def _grads(loss: torch.Tensor, params: list[torch.Tensor]) -> list[torch.Tensor | None]:
    if not params or not loss.requires_grad:
        return [None] * len(params)
    return list(torch.autograd.grad(loss, params, allow_unused=True))


def _clip_args(optim: Any, p: torch.Tensor) -> dict[str, Any]:
    if optim._shared_clip is not None:
        return optim._shared_clip
    return optim._clips.get(id(p), {})


def _cause(error: BaseException) -> str:
    text = str(error)
    # Fake tensors have no values: a value-dependent branch names its expression.
    found = re.search(r"Could not guard on data-dependent expression [^(]*", text)
    if found:
        return "a branch on a tensor's value: " + found.group(0).strip()
    lines = text.strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


_NO_GRAPH = "does not compile as one graph"
_BRANCH_HINT = (
    " A Python branch on a tensor's value (.item(), if z:, int(z)) or an untraceable call"
    " in the model or guide is the usual cause."
)


class CompiledSVIStep:
    """Serves SVI steps of one estimator compiled, per structure.

    Args:
        owner: the name used in warnings (the ELBO class).
        run_loss: ``(model, guide, args, kwargs) -> (loss, traces)``, a bound
            method of the estimator (its baselines are read from ``__self__``).
        max_structures: compiled structures kept (least recently used leave first).
        quiet: fall back to eager without the warning (``ignore_jit_warnings``).

    Example:
        >>> from inference import JitTrace_ELBO
        >>> JitTrace_ELBO().svi_steps.max_structures
        8
    """

    def __init__(
        self, owner: str, run_loss: Callable[..., Any], max_structures: int = 8, quiet: bool = False
    ) -> None:
        self.owner = owner
        self.run_loss: Any = run_loss  # a bound method: its __self__ is the estimator
        self.max_structures = max_structures
        self.quiet = quiet
        # Per structure: ("warm", anchors) after its warm-up, then its _Program.
        self.programs: collections.OrderedDict[Hashable, Any] = collections.OrderedDict()
        self.failed = False
        self.compiles = 0  # programs captured and compiled
        self.warmups = 0  # eager steps that (re)started a structure
        self.stale_captures = 0  # programs dropped because a captured constant changed
        self.max_stale_captures = 3

    def __call__(
        self, svi: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> StepResult | None:
        """The step's :class:`StepResult`, or ``None`` when SVI must run it eagerly."""
        if self.failed:
            return None
        key = _structure_key(svi, args, kwargs)
        program = self.programs.get(key)
        if program is None:
            # The key holds ids: the objects are kept alive with it, so an id
            # cannot be reused by a new model while its entry exists.
            self._remember(key, ("warm", _anchors(svi)))
            self.warmups += 1
            return None
        self.programs.move_to_end(key)
        if isinstance(program, tuple):
            program = self._build(key, svi, args, kwargs)
            if program is None:
                return None
        if not program.assumptions.hold():
            return self._stale(key, program)
        result = program.run(args, kwargs)
        if result is None:
            self.programs.pop(key, None)  # a replaced tensor: warm up again
        return result

    def _remember(self, key: Hashable, value: Any) -> None:
        self.programs[key] = value
        self.programs.move_to_end(key)
        while len(self.programs) > self.max_structures:
            self.programs.popitem(last=False)

    def _build(
        self, key: Hashable, svi: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> _Program | None:
        try:
            layout = _Layout(svi, self.run_loss.__self__, args, kwargs)
            inputs = layout.inputs(args, kwargs)
            capture = _Capture(layout, svi, self.run_loss)
            # A None (a tensor replaced since the warm-up) fails here, as any capture failure.
            examples = [x.detach() for x in inputs]  # type: ignore[union-attr]
            with validation_off(), warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.")
                graph = make_fx(capture, tracing_mode="fake", _allow_non_fake_inputs=True)(
                    *examples
                )
                _drop_host_reads(graph)
                assumptions = CaptureAssumptions(graph, (svi.model, svi.guide))
                with torch._inductor.config.patch(fallback_random=True):
                    compiled = torch._inductor.compile(graph, examples)
        except _NotReady:
            self.programs.pop(key, None)
            return None
        except Exception as error:  # noqa: BLE001 - any capture failure means eager
            self._fail(error)
            return None
        finally:
            self.run_loss.__self__.baselines.staged = {}
            self.run_loss.__self__.last_traces = None
        self.compiles += 1
        layout.data = []  # the warm-up's arguments were needed for the capture only
        program = _Program(layout, compiled, capture.param_names, capture.site_names)
        program.anchors = _anchors(svi)
        program.assumptions = assumptions
        self._remember(key, program)
        return program

    def _stale(self, key: Hashable, program: _Program) -> StepResult | None:
        # A constant of the capture changed: this step runs eagerly and the next
        # captures again from the new values; a program whose constants change
        # every few steps would recompile forever, so it falls back to eager.
        self.programs.pop(key, None)
        self.stale_captures += 1
        if self.stale_captures > self.max_stale_captures:
            self._fail(
                RuntimeError(
                    f"{program.assumptions.describe()} {self.stale_captures} times; pass "
                    "values that change between steps as arguments of the model and guide"
                ),
                "keeps recapturing",
            )
        return None

    def _fail(self, error: BaseException, what: str = _NO_GRAPH) -> None:
        self.failed = True
        if self.quiet:
            return
        hint = _BRANCH_HINT if what == _NO_GRAPH else ""
        warnings.warn(
            f"{self.owner}: the SVI step {what} ({_cause(error)}); running eagerly from "
            f"now on.{hint}",
            CompileFallbackWarning,
            stacklevel=4,
        )
