"""Data-flow provenance: which sample values each site's inputs were computed from.

A provenance pass runs guide and model under :class:`ProvenanceMode`, a
``torch.overrides.TorchFunctionMode`` that sees every torch call of the
program (functions, tensor methods, ``torch.tensor``, ``__setitem__``,
``__bool__``, ``__index__``, ...). Every sample value is tagged with its site
name; the mode tags each result with the union of the tags of its inputs, so a
site's parents are the tags found on its distribution, observed value, mask
and scale. Tags live in one attribute per tensor, stamped with the pass's id,
so tags left over from an earlier pass are ignored.

The analysis is sound rather than fine where it cannot see (Schulman et al.
2015, arXiv 1506.05254, need only *an* upper bound on the true dependencies):

* a tagged value that leaves torch -- ``.item()``, ``if z:``, ``int(z)``,
  ``.tolist()``, ``.numpy()``, list indexing, formatting, any call whose result
  is a Python value rather than a tensor -- is recorded as a *leak* of its
  sources at the current position of the program; the graph then credits
  those sources with every later cost (:mod:`inference.stochastic_graph`);
* writing a tagged value into another tensor in place (``x[i] = z``,
  ``x.add_(z)``, ``out=``) tags that tensor's storage, so every view of it
  carries the sources too;
* the parent search walks a distribution's attributes to any depth
  (wrappers of wrappers, lists, dicts, closures of callables).

Reads that our own packages make while validating or sampling (a
``.item()`` deciding whether to raise) are not leaks: they do not change any
value the program goes on to use, and the parameters they read stay on the
distribution objects the parent search walks.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from ppl.runtime import Message, Messenger

__all__ = ["ProvenanceMode", "ProvenanceMessenger", "sources_of", "track"]

_ATTR = "_scg_provenance"
_PASS_IDS = itertools.count(1)
_LIBRARY = frozenset({"distributions", "ppl", "inference"})
# Calls whose non-tensor results describe shape, dtype or identity, not data.
_METADATA = frozenset(
    {
        "dim",
        "size",
        "numel",
        "nelement",
        "ndimension",
        "__len__",
        "stride",
        "storage_offset",
        "is_contiguous",
        "is_floating_point",
        "is_complex",
        "is_signed",
        "element_size",
        "get_device",
        "data_ptr",
        "__hash__",
        "__get__",
        "__set__",
        "is_nonzero_shape",
        "requires_grad_",
        "retain_grad",
        "register_hook",
        "is_set_to",
        "is_pinned",
        "is_shared",
        "__torch_function__",
        "type",
    }
)
_MUTATORS = frozenset({"__setitem__", "__iadd__", "__isub__", "__imul__", "__itruediv__"})


def _name_of(func: Any) -> str:
    return getattr(func, "__name__", "")


def _is_mutation(name: str, kwargs: Mapping[str, Any] | None) -> bool:
    if kwargs and kwargs.get("out") is not None:
        return True
    if name in _METADATA:
        return False
    return name in _MUTATORS or (name.endswith("_") and not name.startswith("_"))


class ProvenanceMode(TorchFunctionMode):
    """Tags torch results with the sample sites they were computed from.

    Attributes:
        pass_id: the stamp of this pass's tags.
        leaks: ``(sources, position)`` pairs: values that left torch, and how
            many sample sites the program had reached when they did.
        position: sample sites seen so far (kept by :class:`ProvenanceMessenger`).
    """

    def __init__(self) -> None:
        super().__init__()
        self.pass_id = next(_PASS_IDS)
        self.leaks: list[tuple[frozenset[str], int]] = []
        self.position = 0
        self.sampling = 0
        self._storages: dict[int | None, frozenset[str]] = {}

    def sources(self, obj: Any) -> frozenset[str]:
        """The sources tagged on a tensor (or nested lists/tuples/dicts of them)."""
        return _collect(obj, self.pass_id, self._storages)

    def tag(self, tensor: torch.Tensor, sources: frozenset[str]) -> None:
        """Tags ``tensor`` (in place) with ``sources`` for this pass.

        A tensor that cannot carry a tag loses sight of ``sources``: that is
        recorded as a leak, so the graph stays sound.
        """
        if not _tag(tensor, sources, self.pass_id):
            self.leaks.append((sources, self.position))

    def __torch_function__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        out = func(*args, **kwargs) if kwargs else func(*args)
        found = _fast_collect(args, self.pass_id, self._storages)
        if kwargs:
            found = found | _collect(kwargs, self.pass_id, self._storages)
        if not found:
            return out
        name = _name_of(func)
        if _is_mutation(name, kwargs):
            self._mutated(args, kwargs or {}, found)
        if isinstance(out, torch.Tensor):
            self.tag(out, found)
        elif isinstance(out, (list, tuple)) and out and isinstance(out[0], torch.Tensor):
            for item in out:
                if isinstance(item, torch.Tensor):
                    self.tag(item, found)
        elif out is not None and name not in _METADATA and not self._library_read():
            self.leaks.append((found, self.position))
        return out

    def _mutated(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], found: frozenset[str]
    ) -> None:
        target = kwargs.get("out") if kwargs.get("out") is not None else args[0]
        targets = target if isinstance(target, (list, tuple)) else (target,)
        for t in targets:
            if not isinstance(t, torch.Tensor):
                continue
            own = _collect(t, self.pass_id, self._storages)
            if found <= own:
                continue
            self.tag(t, found | own)
            # Views of the target share its storage: tag the storage too.
            key = _storage_key(t)
            self._storages[key] = self._storages.get(key, frozenset()) | found

    def _library_read(self) -> bool:
        if self.sampling:
            return True
        # The first caller outside torch's own Python code made the read.
        frame: FrameType | None = sys._getframe(2)
        while frame is not None:
            package = frame.f_globals.get("__name__", "").partition(".")[0]
            if package != "torch":
                return package in _LIBRARY
            frame = frame.f_back
        return False


def _storage_key(t: torch.Tensor) -> int | None:
    try:
        return t.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):
        return id(t)


def _tag(tensor: torch.Tensor, sources: frozenset[str], pass_id: int) -> bool:
    """Tags ``tensor``; returns False for a tensor type that takes no attributes."""
    try:
        setattr(tensor, _ATTR, (pass_id, sources))
    except (AttributeError, RuntimeError):
        return False
    return True


_EMPTY: frozenset[str] = frozenset()


def _fast_collect(args: tuple[Any, ...], pass_id: int, storages: Any) -> frozenset[str]:
    # The common case, kept lean: a flat tuple of tensors and numbers.
    found = _EMPTY
    for a in args:
        if isinstance(a, torch.Tensor):
            stamp = getattr(a, _ATTR, None)
            if stamp is not None and stamp[0] == pass_id:
                found = found | stamp[1]
            if storages:
                found = found | storages.get(_storage_key(a), _EMPTY)
        elif isinstance(a, (list, tuple, dict)):
            found = found | _collect(a, pass_id, storages)
    return found


def _collect(obj: Any, pass_id: int, storages: Any) -> frozenset[str]:
    if isinstance(obj, torch.Tensor):
        stamp = getattr(obj, _ATTR, None)
        found = stamp[1] if stamp is not None and stamp[0] == pass_id else frozenset()
        if storages:
            found = found | storages.get(_storage_key(obj), frozenset())
        return found
    if isinstance(obj, (list, tuple)):
        found = frozenset()
        for item in obj:
            if isinstance(item, (torch.Tensor, list, tuple, dict)):
                found = found | _collect(item, pass_id, storages)
        return found
    if isinstance(obj, dict):
        return _collect(list(obj.values()), pass_id, storages)
    return frozenset()


def track(mode: ProvenanceMode, value: Any, name: str) -> Any:
    """Tags ``value`` as the output of site ``name`` and returns it."""
    if isinstance(value, torch.Tensor):
        mode.tag(value, frozenset({name}))
    return value


_ATOMS = (str, int, float, bool, complex, type, torch.Size, torch.dtype, torch.device)


def sources_of(mode: ProvenanceMode, obj: Any) -> frozenset[str]:
    """Source names on every tensor reachable from ``obj``, at any depth.

    Walks tensors, lists, tuples, dicts, object attributes (``__dict__`` and
    ``__slots__``) and the closures and defaults of functions, visiting each
    object once.
    """
    found = _EMPTY
    seen = set()
    todo = [obj]
    while todo:
        item = todo.pop()
        if item is None or isinstance(item, _ATOMS) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, torch.Tensor):
            found = found | mode.sources(item)
        elif isinstance(item, (list, tuple, set, frozenset)):
            todo.extend(item)
        elif isinstance(item, dict):
            todo.extend(item.values())
        else:
            todo.extend(_members(item))
    return found


_SLOTS: dict[type, tuple[str, ...]] = {}


def _slots(cls: type) -> tuple[str, ...]:
    names = _SLOTS.get(cls)
    if names is None:
        names = tuple(
            slot
            for klass in cls.__mro__
            for slot in getattr(klass, "__slots__", ())
            if isinstance(slot, str) and slot not in ("__dict__", "__weakref__")
        )
        _SLOTS[cls] = names
    return names


def _members(item: Any) -> list[Any]:
    if callable(item) and hasattr(item, "__code__"):
        members = [c.cell_contents for c in (item.__closure__ or ()) if _filled(c)]
        return members + list(item.__defaults__ or ())
    if hasattr(item, "__self__") and hasattr(item, "__func__"):
        return [item.__self__, item.__func__]
    members = list(getattr(item, "__dict__", {}).values())
    if isinstance(item, torch.nn.Module):
        members.extend(item.parameters())
        members.extend(item.buffers())
    members.extend(getattr(item, slot) for slot in _slots(type(item)) if hasattr(item, slot))
    return members


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises ValueError
    except ValueError:
        return False
    return True


class ProvenanceMessenger(Messenger):
    """Records each sample site's parents and tags its value as a source.

    Use it together with a :class:`ProvenanceMode` that is active while the
    program runs. Latent values are tagged with their own site name; observed
    values (data, ``deterministic`` values) keep the sources they were
    computed from, so data flow passes through them.

    Attributes:
        parents: site name -> frozenset of source site names.
        order: the sample sites in program order.
    """

    def __init__(self, mode: ProvenanceMode, fn: Callable[..., Any] | None = None) -> None:
        super().__init__(fn)
        self.mode = mode
        self.parents: dict[str, frozenset[str]] = {}
        self.order: list[str] = []

    def _process_sample(self, msg: Message) -> None:
        # Drawing happens between this and the postprocess: the sampler's own
        # reads of its parameters are library reads, not leaks.
        self.mode.sampling += 1

    def _postprocess_sample(self, msg: Message) -> None:
        self.mode.sampling -= 1
        mode = self.mode
        parents = sources_of(mode, msg.fn) | sources_of(mode, (msg.mask, msg.scale))
        if msg.is_observed:
            parents = parents | sources_of(mode, msg.value)
        self.parents[msg.name] = parents - {msg.name}
        self.order.append(msg.name)
        mode.position = len(self.order)
        if not msg.is_observed:
            track(mode, msg.value, msg.name)
