"""``CaptureAssumptions``: what a captured SVI program takes as fixed, checked each step.

A program captured by ``make_fx`` (:mod:`inference.compiled_svi`) holds every
tensor it read but did not receive as an input as a *constant*: a tensor the
model closes over, a module-level data tensor, a buffer of a library object.
A branch on such a constant's value was taken once, at capture time. If the
constant later changes, the program would keep computing with the old value
and the old branch: a silently wrong step. So a program records

* each constant tensor of its graph with its version counter (an in-place
  change, ``x.copy_(...)``, ``x[i] = v``, bumps it), and
* for the model and the guide, what their own global and closure names
  are bound to: tensors by identity (rebinding ``data = new`` at module level
  gives a new object), Python numbers, strings and tuples of them by value
  (a global ``N = 100`` sizes a plate, a global ``beta = 0.5`` scales a term:
  the capture baked both in, so ``beta = 0.6`` later must not go unseen),

and the step runs compiled only while all of them hold; otherwise the
structure is captured again from fresh values. Names read inside the
functions the model calls, attributes (``self.beta``) and the contents of
mutable objects (a list, a dict) are not watched: pass what changes between
steps as an argument, where the structure key sees it.

Example:
    >>> import torch
    >>> from torch.fx.experimental.proxy_tensor import make_fx
    >>> scale = torch.tensor(2.0)
    >>> def model(x):
    ...     return x * scale
    >>> graph = make_fx(model, tracing_mode="fake", _allow_non_fake_inputs=True)(torch.ones(2))
    >>> held = CaptureAssumptions(graph, [model])
    >>> held.hold()
    True
    >>> _ = scale.mul_(3.0)  # changed in place: the capture no longer holds
    >>> held.hold()
    False
    >>> held.describe()
    'a tensor the program closes over (shape ()) was changed in place'
"""

from __future__ import annotations

import dis
import inspect
import types
from collections.abc import Iterable, Iterator
from typing import Any

import torch

__all__ = ["CaptureAssumptions"]


def _constants(graph: torch.fx.GraphModule) -> list[torch.Tensor]:
    # By identity: one tensor read in several places is several get_attr nodes.
    found: dict[int, torch.Tensor] = {}
    for node in graph.graph.nodes:
        if node.op == "get_attr":
            value = getattr(graph, str(node.target), None)
            if isinstance(value, torch.Tensor):
                found[id(value)] = value
    return list(found.values())


def _version(tensor: torch.Tensor) -> int | None:
    try:
        return tensor._version
    except RuntimeError:  # inference-mode tensors keep no version counter
        return None


def _function_of(program: Any) -> Any:
    # Handler-wrapped programs and modules keep the user's function inside.
    for attr in ("fn", "forward", "__call__"):
        inner = getattr(program, attr, None)
        if inspect.isfunction(inner) or inspect.ismethod(inner):
            return inspect.unwrap(inner)
    return inspect.unwrap(program) if callable(program) else None


# Immutable values a capture bakes in as constants: watched by value.
_SCALARS = (bool, int, float, complex, str, bytes, type(None))


def _is_scalar(value: Any) -> bool:
    if isinstance(value, tuple):
        return all(_is_scalar(v) for v in value)
    return isinstance(value, _SCALARS)


def _global_names(code: types.CodeType) -> Iterator[str]:
    # The names the function reads as globals, its nested comprehensions and
    # lambdas included (their own code objects); `co_names` alone also holds
    # attribute names and misses the nested code's reads.
    for instruction in dis.get_instructions(code):
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            yield instruction.argval
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _global_names(const)


def _bindings(program: Any) -> list[tuple[dict, str, Any]]:
    fn = _function_of(program)
    fn = getattr(fn, "__func__", fn)
    code = getattr(fn, "__code__", None)
    if code is None:
        return []
    bindings = []
    globals_ = fn.__globals__
    for name in dict.fromkeys(_global_names(code)):
        value = globals_.get(name)
        if isinstance(value, torch.Tensor) or (name in globals_ and _is_scalar(value)):
            bindings.append((globals_, name, value))
    cells = dict(zip(code.co_freevars, fn.__closure__ or ()))
    for name, cell in cells.items():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if isinstance(value, torch.Tensor) or _is_scalar(value):
            bindings.append(({"cell": cell}, name, value))
    return bindings


def _bound(namespace: dict, name: str) -> Any:
    if "cell" in namespace and len(namespace) == 1:
        try:
            return namespace["cell"].cell_contents
        except ValueError:
            return None
    return namespace.get(name)


def _same(current: Any, captured: Any) -> bool:
    # Tensors by identity (their contents are the version counters' business);
    # numbers by type and value, so `n = 100` rebound to an equal 100 holds.
    if current is captured:
        return True
    if isinstance(captured, torch.Tensor) or type(current) is not type(captured):
        return False
    return bool(current == captured)


class CaptureAssumptions:
    """The constant tensors and tensor bindings a captured program relies on.

    Args:
        graph: the captured ``torch.fx.GraphModule``.
        programs: the user's callables (model, guide) whose own global and
            closure names (tensors, numbers, strings) are watched for rebinding.
    """

    def __init__(self, graph: torch.fx.GraphModule, programs: Iterable[Any]) -> None:
        self.constants = [(t, _version(t)) for t in _constants(graph)]
        self.bindings = [b for p in programs for b in _bindings(p)]

    def hold(self) -> bool:
        """Whether every constant is unchanged and every watched name still bound as captured."""
        for tensor, version in self.constants:
            if version is not None and _version(tensor) != version:
                return False
        return all(_same(_bound(ns, name), value) for ns, name, value in self.bindings)

    def describe(self) -> str:
        """What changed, for a warning (names the rebound globals where it can)."""
        rebound = [
            (name, value, _bound(ns, name))
            for ns, name, value in self.bindings
            if not _same(_bound(ns, name), value)
        ]
        tensors = [name for name, value, _ in rebound if isinstance(value, torch.Tensor)]
        if tensors:
            return f"the model or guide's tensor {', '.join(map(repr, tensors))} was rebound"
        if rebound:
            changes = ", ".join(f"{name!r} from {old!r} to {new!r}" for name, old, new in rebound)
            return f"the model or guide's global or closure value changed ({changes})"
        changed = [tuple(t.shape) for t, v in self.constants if v is not None and _version(t) != v]
        shapes = ", ".join(str(s) for s in changed) or "unknown"
        return f"a tensor the program closes over (shape {shapes}) was changed in place"
