"""``substitute``: fixes the values of latent sample and param sites."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ppl.runtime import Message, Messenger

__all__ = ["substitute"]


class substitute(Messenger):
    """Gives sample and param sites fixed values, without making them observed.

    A latent sample site named in ``data`` takes that value but stays latent
    (unlike ``condition``); a param site returns the value instead of the
    stored parameter. With ``substitute_fn(msg)``, a returned value other than
    ``None`` is used.

    Args:
        fn: the model.
        data: a dict of site name to value.
        substitute_fn: a function of the message returning a value or ``None``.

    Example:
        >>> import ppl, torch
        >>> def model():
        ...     return ppl.param("w", torch.tensor(1.0))
        >>> substitute(model, data={"w": torch.tensor(5.0)})().item()
        5.0
    """

    def __init__(
        self,
        fn: Callable[..., Any] | None = None,
        data: Mapping[str, Any] | None = None,
        substitute_fn: Callable[[Message], Any] | None = None,
    ) -> None:
        super().__init__(fn)
        if (data is None) == (substitute_fn is None):
            raise ValueError("substitute: pass exactly one of data= or substitute_fn=")
        self.data: Mapping[str, Any] = {} if data is None else data
        self.substitute_fn = substitute_fn

    def _lookup(self, msg: Message) -> Any:
        if self.substitute_fn is not None:
            return self.substitute_fn(msg)
        return self.data.get(msg.name)

    def _process_sample(self, msg: Message) -> None:
        if msg.is_observed:
            return
        value = self._lookup(msg)
        if value is not None:
            msg.value = value
            msg.done = True

    def _process_param(self, msg: Message) -> None:
        value = self._lookup(msg)
        if value is not None:
            msg.value = value
            msg.done = True
