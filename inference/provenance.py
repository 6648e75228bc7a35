"""Data-flow provenance: which sample values each site's inputs were computed from.

A provenance pass re-runs guide and model with every sample value wrapped in
:class:`Tracked`, a tensor subclass whose ``__torch_function__`` hook carries
the set of source site names through every torch operation (arithmetic,
indexing with integer samples, reductions). A site's parents are the sources
found on its distribution's tensors and on its observed value. The pass runs
only when the model's structure changes (see :mod:`inference.scg`), so normal
steps never pay for it.
"""

import torch

from ppl.runtime import Messenger

__all__ = ["Tracked", "sources_of", "ProvenanceMessenger"]


class Tracked(torch.Tensor):
    """A tensor remembering the sample sites it was computed from (``_sources``)."""

    _sources = frozenset()

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        sources = _collect(args) | _collect(kwargs)
        with torch._C.DisableTorchFunctionSubclass():
            out = func(*args, **kwargs)
        return _wrap(out, sources)


def _collect(obj):
    if isinstance(obj, Tracked):
        return obj._sources
    if isinstance(obj, (list, tuple)):
        found = frozenset()
        for item in obj:
            found = found | _collect(item)
        return found
    if isinstance(obj, dict):
        return _collect(list(obj.values()))
    return frozenset()


def _wrap(out, sources):
    if isinstance(out, torch.Tensor):
        if not sources:
            return out.as_subclass(torch.Tensor) if isinstance(out, Tracked) else out
        wrapped = out.as_subclass(Tracked)
        wrapped._sources = sources
        return wrapped
    if isinstance(out, (list, tuple)):
        items = [_wrap(o, sources) for o in out]
        return type(out)(items) if isinstance(out, list) else tuple(items)
    return out


def track(value, name):
    """Wraps ``value`` so that results computed from it name ``name`` as a source."""
    wrapped = value.as_subclass(Tracked)
    wrapped._sources = frozenset({name})
    return wrapped


def sources_of(obj, depth=3):
    """Source names found on tensors held by ``obj`` (a tensor or a distribution)."""
    if isinstance(obj, torch.Tensor):
        return _collect(obj)
    if depth == 0 or not hasattr(obj, "__dict__"):
        return frozenset()
    found = frozenset()
    for value in vars(obj).values():
        if isinstance(value, torch.Tensor):
            found = found | _collect(value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                found = found | sources_of(item, depth - 1)
        elif hasattr(value, "__dict__") and not isinstance(value, type):
            found = found | sources_of(value, depth - 1)
    return found


class ProvenanceMessenger(Messenger):
    """Records each sample site's parents and wraps its value as a tracked source.

    Attributes:
        parents: site name -> frozenset of source site names.
    """

    def __init__(self, fn=None):
        super().__init__(fn)
        self.parents = {}

    def _postprocess_sample(self, msg):
        parents = sources_of(msg.fn)
        if msg.is_observed:
            parents = parents | sources_of(msg.value)
        self.parents[msg.name] = parents - {msg.name}
        if isinstance(msg.value, torch.Tensor):
            msg.value = track(msg.value, msg.name)
