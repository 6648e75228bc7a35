"""The parameter store: named, constrained, learnable tensors.

A parameter lives as an unconstrained leaf tensor (the optimizer's view) and
is read through ``transform_to(constraint)`` (the model's view), the usual
reparameterization of constrained optimization (Kucukelbir et al. 2017,
"Automatic Differentiation Variational Inference", JMLR 18, section 2.3).

Stores are scoped: :func:`get_param_store` returns the innermost store made
current by :func:`param_store_scope`, so two models in one process can keep
separate parameters. Scopes are per thread (a :class:`threading.local`, which
``torch.compile`` can trace, unlike a ``ContextVar``): two threads, each in its
own scope, train independently.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch

from distributions import constraints, transform_to
from distributions.constraints import Constraint
from distributions.torch_constraints import as_constraint
from distributions.transforms import Transform
from ppl import validation
from ppl.checkpoint_io import read_torch_file, write_atomically
from ppl.param_serialization import decode_state, encode_state

__all__ = ["ParamStore", "get_param_store", "clear_param_store", "param_store_scope"]

_FORMAT = "ppl.param_store"
_VERSION = 2  # 2: with a content checksum (version 1 files are still read)


class ParamStore:
    """A mapping of name to constrained parameter, backed by unconstrained leaves.

    ``items()``, ``values()`` and ``store[name]`` give constrained values;
    :meth:`named_parameters` gives the unconstrained leaf tensors an optimizer
    updates. Each parameter also remembers its constraint and ``event_dim``
    (how many rightmost dims are not plate dims). Its transform is looked up in
    ``transform_to`` when it is stored: a factory registered later applies to
    parameters stored after it (the stored leaf was made by the old one's inverse).

    Example:
        >>> import torch
        >>> from distributions import constraints
        >>> store = ParamStore()
        >>> store.get_param("s", torch.tensor(2.0), constraint=constraints.positive).item()
        2.0
        >>> name, leaf = next(store.named_parameters())
        >>> round(leaf.item(), 4)  # log 2
        0.6931
    """

    def __init__(self) -> None:
        self._params: dict[str, torch.Tensor] = {}
        self._constraints: dict[str, Constraint] = {}
        self._event_dims: dict[str, int | None] = {}
        # name -> the transform its reads apply (None: the leaf is the value, or
        # a transform that caches and so must be built afresh per read).
        self._transforms: dict[str, Transform | None] = {}

    # -------------------------------------------------------------- access
    def get_param(
        self,
        name: str,
        init_value: Any = None,
        constraint: Constraint = constraints.real,
        event_dim: int | None = None,
    ) -> torch.Tensor:
        """Returns the constrained value of ``name``, creating it from ``init_value`` if new.

        Args:
            name: the parameter name.
            init_value: the initial constrained value (a tensor, or a function
                returning one, called only when the parameter is new).
            constraint: the set the value must stay in.
            event_dim: rightmost dims that are not plate dims (for subsampling).

        Raises:
            KeyError: when the parameter is new and no ``init_value`` is given.
            ValueError: when the initial value is outside the constraint.
        """
        if name not in self._params:
            if init_value is None:
                raise KeyError(
                    f"param '{name}' is not in the parameter store and has no init_value; "
                    f"create it first with ppl.param('{name}', init_value)"
                )
            self.setdefault(name, init_value, constraint, event_dim)
        return self[name]

    def setdefault(
        self,
        name: str,
        init_value: Any,
        constraint: Constraint = constraints.real,
        event_dim: int | None = None,
    ) -> torch.Tensor:
        """Stores ``init_value`` under ``name`` unless present; returns the constrained value."""
        if name not in self._params:
            if callable(init_value) and not isinstance(init_value, torch.Tensor):
                init_value = init_value()
            self._store(name, init_value, constraint, event_dim)
        return self[name]

    def __getitem__(self, name: str) -> torch.Tensor:
        leaf = self._params[name]
        transform = self._transforms[name]
        if transform is not None:
            return transform(leaf)
        constraint = self._constraints[name]
        if constraint is constraints.real:
            return leaf
        return transform_to(constraint)(leaf)

    def __setitem__(self, name: str, value: Any) -> None:
        self._store(
            name,
            value,
            self._constraints.get(name, constraints.real),
            self._event_dims.get(name),
        )

    def __delitem__(self, name: str) -> None:
        del self._params[name]
        del self._constraints[name]
        del self._event_dims[name]
        del self._transforms[name]

    def __contains__(self, name: str) -> bool:
        return name in self._params

    def __len__(self) -> int:
        return len(self._params)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._params))

    def keys(self) -> list[str]:
        """The parameter names."""
        return list(self._params)

    def values(self) -> list[torch.Tensor]:
        """The constrained values."""
        return [self[name] for name in self._params]

    def items(self) -> list[tuple[str, torch.Tensor]]:
        """``(name, constrained value)`` pairs."""
        return [(name, self[name]) for name in self._params]

    def named_parameters(self) -> Iterator[tuple[str, torch.Tensor]]:
        """Yields ``(name, unconstrained leaf tensor)``: what an optimizer updates."""
        yield from list(self._params.items())

    def get_unconstrained(self, name: str) -> torch.Tensor:
        """The unconstrained leaf tensor of ``name``."""
        return self._params[name]

    def get_constraint(self, name: str) -> Constraint:
        """The constraint of ``name``."""
        return self._constraints[name]

    def get_event_dim(self, name: str) -> int | None:
        """The ``event_dim`` of ``name`` (``None`` when not given)."""
        return self._event_dims[name]

    def clear(self) -> None:
        """Removes every parameter."""
        self._params.clear()
        self._constraints.clear()
        self._event_dims.clear()
        self._transforms.clear()

    def _store(self, name: str, value: Any, constraint: Any, event_dim: int | None) -> None:
        # torch's constraint objects (Pyro code) are kept as ours: saved, compared, shown alike.
        constraint = as_constraint(constraint, name=f"param '{name}'")
        value = _as_tensor(name, value)
        value = _checked_init(name, value, constraint)
        if constraint is constraints.real and isinstance(value, torch.nn.Parameter):
            # A torch module's parameter (ppl.module, ppl.nn): shared by design,
            # so training through the store trains the module.
            leaf: torch.Tensor = value
        else:
            leaf = _own_leaf(transform_to(constraint).inv(value))
        self._params[name] = leaf
        self._constraints[name] = constraint
        self._event_dims[name] = event_dim
        self._transforms[name] = _bound_transform(constraint)

    # --------------------------------------------------------------- state
    def get_state(self) -> dict[str, Any]:
        """A snapshot of the store, detached from autograd.

        Returns:
            A dict with keys ``"params"`` (name to unconstrained tensor),
            ``"constraints"`` (name to constraint) and ``"event_dims"`` (name
            to int or None).
        """
        return {
            "params": {n: p.detach().clone() for n, p in self._params.items()},
            "constraints": dict(self._constraints),
            "event_dims": dict(self._event_dims),
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Adds (or overwrites) the parameters of a :meth:`get_state` snapshot.

        All new entries are built before any is stored, so a snapshot that
        fails part-way leaves the store exactly as it was.
        """
        constraints_table = state.get("constraints", {})
        event_dims = state.get("event_dims", {})
        entries = {
            name: (
                _own_leaf(unconstrained),
                constraints_table.get(name, constraints.real),
                event_dims.get(name),
            )
            for name, unconstrained in state["params"].items()
        }
        transforms = {name: _bound_transform(entry[1]) for name, entry in entries.items()}
        for name, (leaf, constraint, event_dim) in entries.items():
            self._params[name] = leaf
            self._constraints[name] = constraint
            self._event_dims[name] = event_dim
            self._transforms[name] = transforms[name]

    def save(self, path: str | os.PathLike[str], extra: Any = None) -> None:
        """Writes the store to ``path`` atomically (a temp file renamed over it).

        The file carries a checksum of its content, which :meth:`load`
        verifies. Temp files left by earlier saves to ``path`` that were killed
        mid-write are removed.

        Args:
            path: the file to write.
            extra: optional data saved alongside (e.g. an optimizer's
                ``state_dict()``); only tensors, numbers, strings and
                containers of them, so :meth:`load` can read it safely.

        Raises:
            ValueError: when ``extra`` holds anything else (nothing is written).
        """
        payload = encode_state(self.get_state(), extra, _FORMAT, _VERSION)
        write_atomically(path, payload)

    def load(self, path: str | os.PathLike[str], map_location: Any = None) -> Any:
        """Reads a file written by :meth:`save` into the store (overwriting same names).

        The file is read with ``torch.load(weights_only=True)``: it can hold
        only tensors and plain data, so loading cannot run code. Everything in
        it is checked (layout, checksum, every table) before the store
        changes: a load that fails leaves the store exactly as it was.

        Args:
            path: the file.
            map_location: as for ``torch.load``.

        Returns:
            The ``extra`` data saved with the store (``None`` when none).

        Raises:
            ValueError: naming the file, when it is truncated or corrupted (its
                checksum does not match), not a parameter store written by
                :meth:`save`, or holds anything beyond tensors and plain data.
            FileNotFoundError: when there is no such file.
        """
        payload = read_torch_file(path, map_location)
        state, extra = decode_state(payload, path, _FORMAT, _VERSION)
        self.set_state(state)
        return extra


def _as_tensor(name: str, value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    try:
        return torch.as_tensor(value, dtype=torch.get_default_dtype())
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(
            f"param '{name}': expected a tensor (or a number) as the value, got "
            f"{type(value).__name__}"
        ) from None


def _bound_transform(constraint: Constraint) -> Transform | None:
    # The transform a parameter's reads apply, looked up once when it is stored
    # (the registry lookup builds a new transform each time: a third of a read).
    # Binding it then is also what keeps a read meaningful: the leaf was made
    # by this transform's inverse. A transform with a cache is not bound: its
    # one-slot cache keys on the leaf, which an optimizer changes in place, so
    # a bound one would return the previous step's value; it is built per read.
    if constraint is constraints.real:
        return None
    transform = transform_to(constraint)
    return transform if _cacheless(transform) else None


def _cacheless(transform: Any) -> bool:
    # Ours, without a cache, and so are the transforms it holds (the parts of a
    # composition, the base of an independent or inverse transform, ...).
    state = getattr(transform, "__dict__", None)
    if not isinstance(transform, Transform) or transform._cache_size != 0 or state is None:
        return False
    for name, attribute in state.items():
        inner = attribute if isinstance(attribute, (list, tuple)) else (attribute,)
        if name != "_inv" and not all(_cacheless(t) for t in inner if isinstance(t, Transform)):
            return False
    return True


def _own_leaf(unconstrained: torch.Tensor) -> torch.Tensor:
    # A dense copy the store alone owns: an expanded view (stride 0, Adam's
    # in-place update refuses it), a slice of a caller's tensor or the caller's
    # tensor itself would otherwise alias memory the store does not control.
    leaf = unconstrained.detach().clone(memory_format=torch.contiguous_format)
    return leaf.requires_grad_()


def _checked_init(name: str, value: torch.Tensor, constraint: Constraint) -> torch.Tensor:
    if constraint is constraints.simplex and bool((value >= 0).all()):
        # Like Categorical(probs=...), a nonnegative vector is read as
        # unnormalized weights for the simplex.
        value = value / value.sum(-1, keepdim=True)
    if validation.is_validation_enabled():
        valid = constraint.check(value)
        if not bool(valid.all()):
            raise validation.param_constraint_error(name, constraint, value, valid)
    return value


# The process-wide default store: what every thread uses outside any scope.
_DEFAULT_STORE = ParamStore()


class _ThreadScopes(threading.local):
    # The stack of scoped stores of the current thread, innermost last; like
    # the handler stack it is replaced, never mutated, and each thread sees
    # only its own scopes (the class attribute is a new thread's empty stack).
    scopes: tuple[ParamStore, ...] = ()


_SCOPES = _ThreadScopes()

# One entry per scope entered in any thread (atomic appends and pops): while it
# is empty every thread uses the default store, found without the thread-local
# read (several times dearer; every no-handler ppl.param call asks).
_ENTERED_SCOPES: list[None] = []


def get_param_store() -> ParamStore:
    """Returns the current parameter store (the innermost ``param_store_scope``'s).

    Scopes belong to the thread that entered them: a thread outside any
    scope uses the process-wide default store.

    Example:
        >>> isinstance(get_param_store(), ParamStore)
        True
    """
    if not _ENTERED_SCOPES:
        return _DEFAULT_STORE
    scopes = _SCOPES.scopes
    return scopes[-1] if scopes else _DEFAULT_STORE


def clear_param_store() -> None:
    """Removes every parameter from the current store.

    Example:
        >>> clear_param_store(); len(get_param_store())
        0
    """
    get_param_store().clear()


@contextmanager
def param_store_scope(store: ParamStore | None = None) -> Iterator[ParamStore]:
    """Makes ``store`` (a fresh one by default) the current store inside the block.

    Args:
        store: the :class:`ParamStore` to use.

    Yields:
        The store in use.

    Example:
        >>> import torch, ppl
        >>> with param_store_scope() as store:
        ...     _ = ppl.param("a", torch.tensor(1.0))
        >>> "a" in store, "a" in get_param_store()
        (True, False)
    """
    store = ParamStore() if store is None else store
    if not isinstance(store, ParamStore):
        raise TypeError(f"param_store_scope expects a ParamStore, got {type(store).__name__}")
    _ENTERED_SCOPES.append(None)  # before the stack grows: never empty while one is set
    _SCOPES.scopes = (*_SCOPES.scopes, store)
    try:
        yield store
    finally:
        # Remove this scope's entry (and any inner scope that leaked above it).
        scopes = _SCOPES.scopes
        for i in range(len(scopes) - 1, -1, -1):
            if scopes[i] is store:
                _SCOPES.scopes = scopes[:i]
                for _ in range(len(scopes) - i):
                    _ENTERED_SCOPES.pop()
                break
