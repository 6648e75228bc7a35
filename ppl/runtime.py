"""The effect-handler runtime: the message record, the handler stack and ``apply_stack``.

A primitive such as :func:`ppl.sample` describes what it wants as a
:class:`Message` and hands it to :func:`apply_stack`. Every active handler (a
:class:`Messenger` on the handler stack) may inspect and rewrite the message on
the way up the stack, a default behaviour then fills in the value, and the
handlers see the finished message again on the way back down. This is the
algebraic-effects view of probabilistic programs described by Moore and
Gorinova, "Effect Handling for Composable Program Transformations in Edward2"
(arXiv 1811.06150), and used by Pyro's ``poutine``.

With no handler active the primitives skip all of this (see
:func:`ppl.primitives.sample`): they test the current stack first.

The stack belongs to the running thread: a handler entered in one thread is
invisible to every other thread. It is held in a :class:`threading.local` as
a stack that is never mutated, only replaced (a tuple). A ``threading.local``
rather than a :class:`contextvars.ContextVar` because ``torch.compile``
(dynamo) traces attribute reads of a ``threading.local`` into one graph but
breaks the graph at every ``ContextVar.get`` (issue 14): the compiled SVI step
runs the handlers inside the compiled region.
"""

from __future__ import annotations

import functools
import inspect
import threading
import types
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from types import TracebackType
from typing import Any

import torch

from distributions import Distribution
from ppl import validation

__all__ = [
    "HandlerArgumentError",
    "Message",
    "Messenger",
    "apply_stack",
    "default_process",
    "get_stack",
    "draw",
]


class _ThreadState(threading.local):
    # The handler stack of the current thread, a tuple: index 0 is the
    # outermost handler, the end the innermost. Entering or exiting a handler
    # sets a new tuple; the class attribute is every new thread's empty stack.
    stack: tuple[Messenger, ...] = ()


_STATE = _ThreadState()

# One entry per handler on the stack of any thread (list appends and pops are
# atomic). Empty means no thread has a handler: the primitives test
# `_ENTERED and _current_stack()`, so without handlers their check is one
# global list test, cheaper than a function call or a thread-local read.
_ENTERED: list[None] = []


def _current_stack() -> tuple[Messenger, ...]:
    # The hot-path accessor the primitives test before building a message.
    return _STATE.stack if _ENTERED else ()


def get_stack() -> list[Messenger]:
    """Returns the current thread's handler stack as a new list, outermost first.

    The list is a copy: changing it does not change the stack.

    Example:
        >>> get_stack()
        []
        >>> with Messenger() as handler:
        ...     get_stack() == [handler]
        True
    """
    return list(_STATE.stack)


# Fields that exist only once a trace computed them; `in` reports them absent before.
_LAZY_FIELDS = frozenset({"log_prob", "unscaled_log_prob", "log_prob_sum"})


@dataclass(slots=True, eq=False)
class Message:
    """One effect: a closed record every handler reads and rewrites in place.

    A trace stores these records as its nodes, so they also answer the
    dictionary-style access Pyro's inference code uses (``site["value"]``,
    ``"log_prob" in site``, ``site.get("infer")``).

    Attributes:
        type: ``"sample"``, ``"param"``, ``"plate"`` (a plate's subsample
            indices) or ``"return"`` (the ``_RETURN`` node of a trace).
        name: the site name, unique per model run for sample sites.
        fn: the distribution of a sample site; the function computing the
            value for other types (a read of the parameter store for params).
        args: positional arguments of ``fn`` for non-sample types
            (``(name, init_value)`` for params, ``(size, subsample_size)`` for
            plates); ``()`` for sample sites.
        kwargs: keyword arguments: ``{"sample_shape": ...}`` for sample sites,
            ``{"constraint": ..., "event_dim": ...}`` for params, ``{"dim": ...}``
            for plates.
        value: the value of the site, ``None`` until a handler or the default
            behaviour sets it.
        is_observed: whether ``value`` is data (``obs``) rather than a draw.
        infer: the only open dictionary: inference hints such as
            ``{"enumerate": "parallel"}`` or ``{"baseline": {...}}``, passed
            through untouched.
        scale: multiplies the log-probability (plates' subsampling, ``scale``
            handler); a number or a tensor broadcastable to the batch shape.
        mask: ``None``, a bool, or a bool tensor broadcastable to the batch
            shape; ``False`` entries contribute zero log-probability.
        cond_indep_stack: the enclosing plates as
            :class:`~ppl.plate.CondIndepStackFrame` records, outermost first.
        done: set once the value is final; the default behaviour then skips.
        stop: set by a handler (``block``) to hide the message from the
            handlers further out.
        continuation: an optional callable run on the message after the
            postprocess phase.
        log_prob: the scaled and masked log-probability (after
            ``Trace.compute_log_prob``), shaped like the batch.
        unscaled_log_prob: ``fn.log_prob(value)`` before scale and mask.

    ``log_prob_sum`` (a property, below) completes the record's log-prob fields.

    Example:
        >>> import torch
        >>> msg = Message(type="sample", name="x", fn=None, value=torch.tensor(1.0))
        >>> msg["name"], "log_prob" in msg
        ('x', False)
    """

    type: str
    name: str
    fn: Any = None
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    value: Any = None
    is_observed: bool = False
    infer: dict = field(default_factory=dict)
    scale: Any = 1.0
    mask: Any = None
    cond_indep_stack: tuple = ()
    done: bool = False
    stop: bool = False
    continuation: Any = None
    log_prob: Any = None
    unscaled_log_prob: Any = None
    # Behind the log_prob_sum property: the sum once read, and whether grad mode
    # was on when log_prob was set (None: take the mode of the read).
    _log_prob_sum: Any = field(default=None, repr=False)
    _sum_grad: bool | None = field(default=None, repr=False)

    @property
    def log_prob_sum(self) -> Any:
        """``log_prob.sum()``, a scalar tensor; ``None`` before ``log_prob`` is set.

        Summed on first read, in the grad mode ``log_prob`` was computed in:
        inference reads ``log_prob``, so most sites never pay for the sum.
        """
        total = self._log_prob_sum
        if total is None and self.log_prob is not None:
            if self._sum_grad is None:
                total = self.log_prob.sum()
            else:
                with torch.set_grad_enabled(self._sum_grad):
                    total = self.log_prob.sum()
            self._log_prob_sum = total
        return total

    @log_prob_sum.setter
    def log_prob_sum(self, value: Any) -> None:
        self._log_prob_sum = value

    def set_log_prob(self, unscaled: Any, log_prob: Any) -> None:
        """Records a computed log-probability; its sum is taken when first read.

        Args:
            unscaled: ``fn.log_prob(value)``.
            log_prob: the same, masked and scaled.

        Example:
            >>> msg = Message(type="sample", name="x")
            >>> msg.set_log_prob(torch.ones(3), 2 * torch.ones(3))
            >>> msg.log_prob_sum.item()
            6.0
        """
        self.unscaled_log_prob = unscaled
        self.log_prob = log_prob
        self._log_prob_sum = None
        self._sum_grad = torch.is_grad_enabled()

    # Dictionary-style access, for code written against Pyro's dict messages.
    def __getitem__(self, key: str) -> Any:
        if key not in _FIELD_NAMES:
            raise KeyError(f"Message has no field {key!r}; its fields are {sorted(_FIELD_NAMES)}")
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in _FIELD_NAMES:
            raise KeyError(
                f"Message has no field {key!r}; it is a closed record, put extra "
                "information in msg.infer instead"
            )
        setattr(self, key, value)

    def __contains__(self, key: str) -> bool:
        if key == "log_prob_sum":  # present once log_prob is (reading it would sum)
            return self.log_prob is not None
        if key in _LAZY_FIELDS:
            return getattr(self, key) is not None
        return key in _FIELD_NAMES

    def get(self, key: str, default: Any = None) -> Any:
        """Returns the field ``key``, or ``default`` when it is unknown or not computed yet."""
        if key not in self:
            return default
        return getattr(self, key)

    def keys(self) -> list[str]:
        """The names of the fields present (lazy log-prob fields only once computed)."""
        return [name for name in _FIELD_ORDER if name in self]

    def copy(self) -> Message:
        """A shallow copy whose ``infer`` and ``kwargs`` dicts are copies too."""
        new = Message(**{name: getattr(self, name) for name in _INIT_FIELDS})
        new.infer = dict(self.infer)
        new.kwargs = dict(self.kwargs)
        return new


_INIT_FIELDS = tuple(f.name for f in fields(Message))
# The documented fields, in order: the sum's property stands for its private slots.
_FIELD_ORDER = tuple(
    "log_prob_sum" if name == "_log_prob_sum" else name
    for name in _INIT_FIELDS
    if name != "_sum_grad"
)
_FIELD_NAMES = frozenset(_FIELD_ORDER)


def draw(fn: Any, sample_shape: tuple | torch.Size = ()) -> Any:
    """Draws from a distribution, reparameterized whenever it can be.

    Pathwise gradients need ``rsample``; distributions without one fall back
    to ``sample`` (their sites take the score-function path in inference).
    With validation on, the draw is recorded as inside the support
    (:func:`ppl.validation.mark_drawn`): scoring it checks nothing again.

    Example:
        >>> from distributions import Normal
        >>> draw(Normal(0.0, 1.0), (2,)).shape
        torch.Size([2])
    """
    value = fn.rsample(sample_shape) if fn.has_rsample else fn.sample(sample_shape)
    if validation.is_validation_enabled():
        validation.mark_drawn(fn, value)
    return value


def default_process(msg: Message) -> None:
    """The default behaviour: computes ``msg.value`` unless a handler already did.

    Sample sites draw from ``msg.fn`` with ``msg.kwargs["sample_shape"]``;
    other message types call ``msg.fn(*msg.args, **msg.kwargs)``.
    """
    if msg.done or msg.is_observed or msg.value is not None:
        msg.done = True
        return
    if msg.type == "sample":
        msg.value = draw(msg.fn, msg.kwargs.get("sample_shape", ()))
    else:
        msg.value = msg.fn(*msg.args, **msg.kwargs)
    msg.done = True


def apply_stack(msg: Message) -> Message:
    """Runs a message through the active handlers and the default behaviour.

    Three phases:

    1. **Process, up the stack**: from the innermost handler outwards, each
       handler's ``process_message`` may rewrite the message; one that sets
       ``msg.stop`` hides it from the handlers further out.
    2. **Default behaviour**: with validation on, the site is checked
       (:func:`ppl.validation.check_message`); then the value is drawn
       (:func:`default_process`) unless a handler set it.
    3. **Postprocess, down the stack**: the handlers visited in phase 1 see the
       finished message, outermost first; then ``msg.continuation`` runs.

    Args:
        msg: the :class:`Message` to handle; it is updated in place.

    Returns:
        The same message, with ``value`` set.

    Example:
        >>> msg = apply_stack(Message(type="plate", name="p", fn=lambda n: n * 2, args=(3,)))
        >>> msg.value
        6
    """
    stack = _STATE.stack  # direct: the primitives call this only with a handler on
    msg_type = msg.type
    first = len(stack)  # index of the outermost handler visited
    # The dispatch tables are read here rather than through process_message:
    # one Python call per handler and message fewer on every site.
    for handler in reversed(stack):
        first -= 1
        method = handler._process_dispatch.get(msg_type)
        if method is not None:
            method(handler, msg)
        if msg.stop:
            break
    # check_message checks sample sites only: other types skip the call, and
    # so does a latent site of a library distribution, where it has nothing
    # to check (it checks observed values, and fns that may not be distributions).
    if (
        msg_type == "sample"
        and validation._ENABLED[0]
        and (msg.is_observed or not isinstance(msg.fn, Distribution))
    ):
        validation.check_message(msg)
    if msg.done or msg.is_observed or msg.value is not None:
        msg.done = True  # default_process's no-op case, without the call
    else:
        default_process(msg)
    for handler in stack[first:]:
        method = handler._postprocess_dispatch.get(msg_type)
        if method is not None:
            method(handler, msg)
    if msg.continuation is not None:
        msg.continuation(msg)
    return msg


class _EveryType(dict[str, Any]):
    """The dispatch table of a class overriding ``process_message``: that method, for any type."""

    def __init__(self, method: Callable[[Any, Message], None]) -> None:
        super().__init__()
        self.method = method

    def get(self, key: str, default: Any = None) -> Callable[[Any, Message], None]:
        return self.method


def _dispatch_table(cls: type, prefix: str) -> dict[str, Any]:
    # Maps a message type to the handler's method for it, looked up once per
    # class: `_process_sample` handles "sample" messages, and so on.
    table: dict[str, Any] = {}
    for name in dir(cls):
        if name.startswith(prefix) and callable(getattr(cls, name)):
            table[name[len(prefix) :]] = getattr(cls, name)
    return table


class Messenger:
    """Base class of effect handlers: a context manager and a function wrapper.

    Subclasses handle a message type by defining ``_process_<type>`` (called
    on the way up the stack) and ``_postprocess_<type>`` (on the way down),
    e.g. ``_process_sample(self, msg)``. Types without a method pass through.

    As a decorator (``@scale(scale=2.0)`` over a ``def``) a handler returns a
    new function wrapping the decorated one (``functools.wraps``), so it binds
    as a method and one handler instance may decorate several functions. A
    handler built with its function (``block(model)``) and stored on a class
    binds as a method too.

    Args:
        fn: the function to run under this handler when the handler is called.
            ``None`` leaves the handler usable as a context manager or a
            decorator.

    Raises:
        HandlerArgumentError: (a ``TypeError`` and a ``ValueError``) when
            ``fn``, or the function decorated, is not callable.

    Example:
        >>> class shout(Messenger):
        ...     def _process_plate(self, msg):
        ...         msg.name = msg.name.upper()
        >>> with shout():
        ...     apply_stack(Message(type="plate", name="p", fn=lambda: 0)).name
        'P'
    """

    _process_table: dict[str, Any] = {}
    _postprocess_table: dict[str, Any] = {}
    _process_dispatch: dict[str, Any] = {}
    _postprocess_dispatch: dict[str, Any] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._process_table = _dispatch_table(cls, "_process_")
        cls._postprocess_table = _dispatch_table(cls, "_postprocess_")
        # What apply_stack reads: the tables, unless the class overrides the
        # dispatchers themselves (Pyro style), which then get every message.
        cls._process_dispatch = cls._process_table
        if cls.process_message is not Messenger.process_message:
            cls._process_dispatch = _EveryType(cls.process_message)
        cls._postprocess_dispatch = cls._postprocess_table
        if cls.postprocess_message is not Messenger.postprocess_message:
            cls._postprocess_dispatch = _EveryType(cls.postprocess_message)

    def __init__(self, fn: Callable[..., Any] | None = None) -> None:
        if fn is not None and not callable(fn):
            raise _not_callable(self, fn)
        self.fn = fn

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        # A handler wrapping a function and stored on a class (`@block` on a
        # method) binds as that function would: the instance comes first.
        if instance is None or self.fn is None:
            return self
        return types.MethodType(self, instance)

    def __enter__(self) -> Any:  # Any: subclasses return other things (plate: its indices)
        _ENTERED.append(None)  # before the stack grows: never empty while one is set
        _STATE.stack = (*_STATE.stack, self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Remove this handler and anything left above it (a handler that was
        # never exited because of an error), so the stack cannot leak.
        stack = _STATE.stack
        if stack and stack[-1] is self:  # the usual exit: the innermost handler
            _STATE.stack = stack[:-1]
            _ENTERED.pop()
            return None
        for i in range(len(stack) - 1, -1, -1):
            if stack[i] is self:
                _STATE.stack = stack[:i]
                for _ in range(len(stack) - i):
                    _ENTERED.pop()
                break
        return None

    def process_message(self, msg: Message) -> None:
        """Dispatches ``msg`` to ``_process_<msg.type>`` when this class defines it."""
        method = self._process_table.get(msg.type)
        if method is not None:
            method(self, msg)

    def postprocess_message(self, msg: Message) -> None:
        """Dispatches ``msg`` to ``_postprocess_<msg.type>`` when this class defines it."""
        method = self._postprocess_table.get(msg.type)
        if method is not None:
            method(self, msg)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.fn is not None:
            return self._run(self.fn, args, kwargs)
        # Used as a decorator: `@scale(scale=2.0)` then `def model(): ...`.
        if len(args) == 1 and not kwargs and callable(args[0]):
            return self._decorate(args[0])
        if len(args) == 1 and not kwargs:
            raise _not_callable(self, args[0])
        raise TypeError(
            f"{type(self).__name__} has no function to run: wrap one first, e.g. "
            f"{type(self).__name__.lower()}(model, ...)(*args)"
        )

    def _decorate(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        # A fresh wrapper per function, so one handler instance can decorate
        # several functions (each runs its own), and a plain function, so it
        # binds as a method like the function it wraps.
        handler = self

        @functools.wraps(fn)
        def handled(*args: Any, **kwargs: Any) -> Any:
            return handler._run(fn, args, kwargs)

        return handled

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Runs ``fn(*args, **kwargs)`` under this handler (subclasses add records)."""
        with self:
            return fn(*args, **kwargs)


class HandlerArgumentError(TypeError, ValueError):
    """A handler was given something that is not a model where it expects one.

    Both a ``TypeError`` (what Python raises for a wrong argument type) and a
    ``ValueError`` (what Pyro's handlers raise here), so code catching either works.
    """


def _not_callable(handler: Messenger, value: Any) -> HandlerArgumentError:
    name = type(handler).__name__
    options = [p for p in inspect.signature(type(handler)).parameters if p != "fn"]
    hint = f" (e.g. {name}({options[0]}={value!r}))" if options and len(repr(value)) < 40 else ""
    return HandlerArgumentError(
        f"{name}: expected a callable model, got {type(value).__name__} {_short_repr(value)}; "
        f"did you mean to pass it as a keyword argument{hint}? Handlers take the model "
        "first and their other arguments by keyword"
    )


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 40 else text[:36] + "..."
