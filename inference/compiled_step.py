"""``CompiledLoss``: an ELBO's differentiable loss compiled by ``torch.compile`` (inductor).

The compiled region is the whole forward pass of an SVI step: guide and model
run through the effect handlers, the traces' log-densities, the DiCE
surrogate and the baselines. Dynamo inlines the handlers (the handler stack
and the parameter-store scopes live in ``threading.local`` objects, which it
traces; a ``ContextVar`` would break the graph at every site), inductor
generates the kernels, and AOTAutograd compiles the backward pass, which the
eager ``loss.backward()`` of the step then runs.

How a call is served:

1. The first call for a *structure* (:func:`args_key`: shapes, dtypes and
   devices of tensor arguments, values of the others) is an eager warm-up with
   validation as the user set it: it creates the parameters and checks the
   program once (site names, shapes, supports, model/guide match).
2. Later calls with that structure run compiled, with validation off inside
   the region: validation decides by ``.item()`` whether to raise, and a host
   read is a graph break. The owner computes the data checks as a tensor flag
   inside the region instead (``inference.jit``, :mod:`inference.compiled_checks`)
   and reruns an estimate that fails them eagerly.
3. Compilation is tried with ``fullgraph=True`` first. When it fails (a graph
   break: ``.item()``, ``if z:``, an untraceable call), it is retried with
   ``fullgraph=False`` where the owner asked for pieces, else the owner runs
   eagerly; either way one :class:`CompileFallbackWarning` names the cause.

Structures are kept in a bounded LRU table; each owner compiles its own copy
of the forward function, so dynamo's per-code recompile limit counts one
owner's structures only.
"""

from __future__ import annotations

import collections
import types
import warnings
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

import ppl
from distributions import Distribution

__all__ = ["CompileFallbackWarning", "CompiledLoss", "args_key", "validation_off"]


class CompileFallbackWarning(UserWarning):
    """Compilation failed or broke into pieces; the warning names the cause."""


def _value_key(value: Any) -> tuple[Any, ...]:
    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.shape), value.dtype, value.device, value.requires_grad)
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(_value_key(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((k, _value_key(v)) for k, v in sorted(value.items())))
    try:
        hash(value)
    except TypeError:
        # Unhashable static arguments are told apart by identity: a new object
        # is a new structure (dynamo guards on what the program reads of it).
        return ("id", type(value).__name__, id(value))
    return ("value", value)


def args_key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Hashable:
    """The structure key of a call's arguments: tensor metadata and static values.

    Example:
        >>> import torch
        >>> args_key((torch.zeros(3),), {"n": 2}) == args_key((torch.ones(3),), {"n": 2})
        True
        >>> args_key((torch.zeros(3),), {}) == args_key((torch.zeros(4),), {})
        False
    """
    return _value_key(tuple(args)), _value_key(dict(kwargs))


@contextmanager
def validation_off() -> Iterator[None]:
    """Turns distribution and ``ppl`` validation off inside the block, restoring both after.

    Example:
        >>> with validation_off():
        ...     ppl.validation.is_validation_enabled()
        False
    """
    dist_before = Distribution._validate_args
    ppl_before = ppl.validation.is_validation_enabled()
    Distribution.set_default_validate_args(False)
    ppl.enable_validation(False)
    try:
        yield
    finally:
        # ppl's switch sets the distributions' default too, so it goes first.
        ppl.enable_validation(ppl_before)
        Distribution.set_default_validate_args(dist_before)


def _fresh_copy(fn: Any) -> types.FunctionType:
    # A function with its own code object: dynamo keeps its cache (and counts
    # its recompile limit) per code object, so each owner gets its own.
    return types.FunctionType(
        fn.__code__.replace(), fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__
    )


def _cause(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


class CompiledLoss:
    """Serves ``forward(model, guide, args, kwargs)`` compiled per structure.

    Args:
        owner: the name used in warnings (the ELBO class).
        forward: the eager loss function ``(model, guide, args, kwargs) -> tensor``.
        allow_pieces: whether a ``fullgraph=False`` compilation is tried when the
            whole graph does not compile (else the owner runs eagerly).
        max_structures: how many structures the table keeps (least recently used
            leave first; a structure that comes back warms up again).

    Example:
        >>> loss = CompiledLoss("demo", lambda model, guide, args, kwargs: args[0] * 2)
        >>> key = args_key((torch.ones(2),), {})
        >>> loss.is_warm(key)
        False
        >>> loss.warmed(key)
        >>> loss.is_warm(key)
        True
    """

    def __init__(
        self,
        owner: str,
        forward: Callable[..., Any],
        allow_pieces: bool = False,
        max_structures: int = 8,
        quiet: bool = False,
    ) -> None:
        self.owner = owner
        self.quiet = quiet  # Pyro's ignore_jit_warnings: fall back without a warning
        self.forward = forward
        self.allow_pieces = allow_pieces
        self.max_structures = max_structures
        self.structures: collections.OrderedDict[Hashable, Any] = collections.OrderedDict()
        self.failed = False
        self.fullgraph = True
        self.compiles = 0  # graphs inductor built
        self.warmups = 0  # eager steps that (re)started a structure
        self._compiled: Callable[..., Any] | None = None

    def is_warm(self, key: Hashable) -> bool:
        """Whether ``key`` had its eager warm-up (and marks it recently used)."""
        if key in self.structures:
            self.structures.move_to_end(key)
            return True
        return False

    def warmed(self, key: Hashable, state: Any = None) -> None:
        """Records the warm-up of ``key`` with the owner's ``state`` for it."""
        self.warmups += 1
        self.structures[key] = state
        self.structures.move_to_end(key)
        while len(self.structures) > self.max_structures:
            self.structures.popitem(last=False)

    def _backend(self, gm: torch.fx.GraphModule, example_inputs: list[torch.Tensor]) -> Any:
        self.compiles += 1
        # fallback_random: draws come from torch's generator as in eager mode, so a
        # seed gives the eager run's draws (inductor's own RNG would give others).
        with torch._inductor.config.patch(fallback_random=True):
            return torch._dynamo.lookup_backend("inductor")(gm, example_inputs)

    def _build(self) -> Callable[..., Any]:
        self._compiled = torch.compile(
            _fresh_copy(_call), backend=self._backend, fullgraph=self.fullgraph, dynamic=False
        )
        return self._compiled

    def __call__(
        self,
        model: Callable[..., Any],
        guide: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """The compiled loss, or ``None`` when the owner must run eagerly from now on."""
        if self.failed:
            return None
        compiled = self._compiled if self._compiled is not None else self._build()
        try:
            with validation_off(), warnings.catch_warnings():
                # Dynamo reads .grad of non-leaf tensors while building guards, which warns.
                warnings.filterwarnings("ignore", message="The .grad attribute of a Tensor")
                # The compiler's own deprecation notices (torch.jit internals it imports)
                # are not about the user's program.
                warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.")
                return compiled(self.forward, model, guide, args, kwargs)
        except Exception as error:  # noqa: BLE001 - any compiler failure means a fallback
            return self._fall_back(error, model, guide, args, kwargs)

    def _fall_back(
        self,
        error: Exception,
        model: Callable[..., Any],
        guide: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        if self.fullgraph and self.allow_pieces:
            self.fullgraph = False
            self._build()
            self._warn(error, "compiling it in pieces (fullgraph=False)")
            return self(model, guide, args, kwargs)
        self.failed = True
        if self.fullgraph:
            self._warn(error, "running eagerly from now on")
        return None

    def _warn(self, error: Exception, outcome: str) -> None:
        if self.quiet:
            return
        warnings.warn(
            f"{self.owner}: the SVI step does not compile as one graph ({_cause(error)}); "
            f"{outcome}. A Python branch on a tensor's value (.item(), if z:, int(z)) or "
            "an untraceable call in the model or guide is the usual cause.",
            CompileFallbackWarning,
            stacklevel=4,
        )


def _call(
    forward: Callable[..., Any],
    model: Callable[..., Any],
    guide: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    return forward(model, guide, args, kwargs)
