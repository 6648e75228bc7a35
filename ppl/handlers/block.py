"""``block``: hides sites from the handlers outside it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ppl.runtime import Message, Messenger

__all__ = ["block"]


class block(Messenger):
    """Hides the selected sites from every handler further out (a trace, say).

    A hidden site still runs (its value is drawn as usual) but sets
    ``msg.stop``, so outer handlers neither process nor record it. The
    selection, first rule that applies:

    1. ``hide_fn(msg)`` is true, or ``expose_fn(msg)`` is false;
    2. the name is in ``hide`` or the type in ``hide_types``;
    3. with ``expose``/``expose_types`` given: everything not listed there;
    4. otherwise every site (``hide_all=True``), or none (``expose_all=True``).

    Args:
        fn: the model.
        hide_fn, expose_fn: predicates on the message.
        hide, expose: site names.
        hide_types, expose_types: message types (``"sample"``, ``"param"``, ``"plate"``).
        hide_all, expose_all: the default when nothing else is given.

    Example:
        >>> import ppl
        >>> from distributions import Normal
        >>> def model():
        ...     ppl.sample("a", Normal(0.0, 1.0))
        ...     ppl.sample("b", Normal(0.0, 1.0))
        >>> list(ppl.handlers.trace(block(model, hide=["a"])).get_trace().stochastic_nodes)
        ['b']
    """

    def __init__(
        self,
        fn: Callable[..., Any] | None = None,
        hide_fn: Callable[[Message], bool] | None = None,
        expose_fn: Callable[[Message], bool] | None = None,
        hide_all: bool = True,
        expose_all: bool = False,
        hide: Iterable[str] | None = None,
        expose: Iterable[str] | None = None,
        hide_types: Iterable[str] | None = None,
        expose_types: Iterable[str] | None = None,
    ) -> None:
        super().__init__(fn)
        if hide_fn is not None and expose_fn is not None:
            raise ValueError("block: pass hide_fn or expose_fn, not both")
        self.hide_fn = hide_fn
        self.expose_fn = expose_fn
        self.hide_all = hide_all and not expose_all
        self.hide = frozenset(hide or ())
        self.expose = frozenset(expose or ())
        self.hide_types = frozenset(hide_types or ())
        self.expose_types = frozenset(expose_types or ())

    def _hides(self, msg: Message) -> bool:
        if self.hide_fn is not None:
            return bool(self.hide_fn(msg))
        if self.expose_fn is not None:
            return not self.expose_fn(msg)
        if self.hide or self.hide_types:
            return msg.name in self.hide or msg.type in self.hide_types
        if self.expose or self.expose_types:
            return not (msg.name in self.expose or msg.type in self.expose_types)
        return self.hide_all

    def process_message(self, msg: Message) -> None:
        if self._hides(msg):
            msg.stop = True
