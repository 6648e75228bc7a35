"""``scope``: prefixes site names, so one model can be reused under several names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ppl.runtime import Message, Messenger

__all__ = ["scope"]


class scope(Messenger):
    """Prefixes the names of the sample, param and plate sites inside.

    Nested scopes compose from the outside in (``outer/inner/x``). Beyond
    Pyro's core handlers; NumPyro has the same ``scope``.

    Args:
        fn: the model.
        prefix: the prefix.
        divider: put between the prefix and the name.

    Example:
        >>> import ppl
        >>> from distributions import Normal
        >>> def model():
        ...     ppl.sample("x", Normal(0.0, 1.0))
        >>> list(ppl.handlers.trace(scope(model, prefix="a")).get_trace().stochastic_nodes)
        ['a/x']
    """

    def __init__(
        self, fn: Callable[..., Any] | None = None, prefix: str | None = None, divider: str = "/"
    ) -> None:
        super().__init__(fn)
        if not isinstance(prefix, str) or not prefix:
            raise ValueError(f"scope: prefix= must be a non-empty string, got {prefix!r}")
        self.prefix = prefix
        self.divider = divider

    def _rename(self, msg: Message) -> None:
        msg.name = f"{self.prefix}{self.divider}{msg.name}"

    _process_sample = _rename
    _process_param = _rename
    _process_plate = _rename
