"""Facts about tensors, keyed by identity and forgotten when a tensor changes in place.

Validation remembers what it learned about a tensor (it satisfies a
constraint, it was made from a Python number, it passed an observation
check) so that the same unchanged tensor is not read again. One mechanism
serves all of them: :class:`TensorRecords`, a bounded map from a live tensor
to a fact about its current contents. A fact is found again only for the same
tensor object at the same version counter, which torch bumps on every
in-place change.

An entry must not outlive its tensor's identity: a freed tensor's ``id`` may
be reused by a new one. Outside :class:`held_records` an entry keeps a weak
reference for that, made once per tensor (a tensor recorded again keeps it).
Inside :class:`held_records` (one ELBO evaluation) tensors made during it
(draws, parameters' constrained values) are held strongly instead, and dropped
when the outermost ``held_records`` exits: no weak reference to make, nor to
clear when the tensor dies.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch

__all__ = ["TensorRecords", "held_records", "tracing"]

# Depth of nested held_records() blocks; a list so the hot paths read one global.
_DEPTH = [0]
# The held maps of every TensorRecords, emptied when the outermost block exits
# (a plain list: the records are module-level singletons, and iterating a
# WeakSet would cost a generator per evaluation).
_HELD: list[dict[int, Any]] = []


def tracing() -> bool:
    """Whether a compiler or a torch-function mode is tracing (it would see the records' reads).

    Example:
        >>> tracing()
        False
    """
    return torch.compiler.is_compiling() or torch._C._is_torch_function_mode_enabled()


class TensorRecords:
    """A bounded map from live tensors to a fact about their current contents.

    Args:
        limit: the most entries kept; the map is emptied when it is reached
            (records only save work: a forgotten fact is checked again).

    Example:
        >>> records = TensorRecords(16)
        >>> x = torch.zeros(3)
        >>> records.put(x, "checked")
        >>> records.get(x)
        'checked'
        >>> _ = x.add_(1)  # an in-place change forgets it
        >>> records.get(x) is None
        True
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        # id -> (weak reference, version, fact): outlives any held_records block.
        self._kept: dict[int, tuple[Any, int, Any]] = {}
        # id -> (the tensor, version, fact): transient tensors inside held_records.
        self._held: dict[int, tuple[torch.Tensor, int, Any]] = {}
        _HELD.append(self._held)

    def put(self, tensor: torch.Tensor, fact: Any, transient: bool = False) -> None:
        """Records ``fact`` for ``tensor`` as it is now.

        Args:
            tensor: the tensor.
            fact: what is known of its current contents (any object).
            transient: ``tensor`` was made during the current evaluation and is
                unlikely to be seen after it; inside :class:`held_records` it is
                then held strongly until the block exits, without a weak reference.
        """
        if tracing():
            return
        try:
            version = tensor._version
        except (RuntimeError, TypeError):  # inference-mode and functorch tensors
            return
        key = id(tensor)
        # A held tensor stays held: a later fact about it replaces the held one
        # (get() reads the held map first).
        if _DEPTH[0] and (transient or key in self._held):
            if len(self._held) >= self.limit:
                self._held.clear()
            self._held[key] = (tensor, version, fact)
            return
        old = self._kept.get(key)
        # A tensor recorded again (a parameter after each optimizer step) keeps
        # its weak reference: only a new tensor pays for one.
        ref = old[0] if old is not None and old[0]() is tensor else weakref.ref(tensor)
        if len(self._kept) >= self.limit:
            self._kept.clear()
        self._kept[key] = (ref, version, fact)

    def get(self, tensor: torch.Tensor) -> Any:
        """The fact recorded for ``tensor``, or None if there is none or it changed since."""
        key = id(tensor)
        entry: Any = self._held.get(key)
        if entry is None:
            entry = self._kept.get(key)
            if entry is None or entry[0]() is not tensor:
                return None
        elif entry[0] is not tensor:
            return None
        # A torch-function mode would see the version read. Under dynamo a hit
        # breaks the graph at the version compare and runs eagerly (correct;
        # torch.compiler.is_compiling() would cost more than the lookup).
        if torch._C._is_torch_function_mode_enabled():
            return None
        try:
            return entry[2] if entry[1] == tensor._version else None
        except RuntimeError:  # inference-mode tensors have no version counter
            return None

    def clear(self) -> None:
        """Forgets every fact."""
        self._kept.clear()
        self._held.clear()

    def __len__(self) -> int:
        return len(self._kept) + len(self._held)


class held_records:
    """Holds the transient tensors recorded inside the block until it exits.

    Entered around one evaluation (an ELBO's traces and loss), so the draws
    and parameter values recorded there skip their weak references. Nested
    blocks release everything when the outermost exits.

    Example:
        >>> records = TensorRecords(16)
        >>> with held_records():
        ...     x = torch.zeros(3)
        ...     records.put(x, "drawn", transient=True)
        ...     records.get(x)
        'drawn'
        >>> records.get(x) is None  # released with the block
        True
    """

    def __enter__(self) -> held_records:
        _DEPTH[0] += 1
        return self

    def __exit__(self, *exc: object) -> None:
        depth = _DEPTH[0] - 1
        _DEPTH[0] = max(depth, 0)
        if depth <= 0:
            for held in _HELD:
                if held:
                    held.clear()
