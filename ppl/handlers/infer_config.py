"""``infer_config``: sets the ``infer`` hints of sites from a function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ppl.runtime import Message, Messenger

__all__ = ["infer_config"]


class infer_config(Messenger):
    """Updates each sample and param site's ``infer`` dict with ``config_fn(msg)``.

    Use it to attach inference hints (enumeration, baselines) to sites of a
    model you do not want to edit.

    Args:
        fn: the model.
        config_fn: a function of the message returning a dict of hints.

    Example:
        >>> import ppl
        >>> from distributions import Normal
        >>> def model():
        ...     ppl.sample("x", Normal(0.0, 1.0))
        >>> configured = infer_config(model, config_fn=lambda msg: {"baseline": {"loo": True}})
        >>> ppl.handlers.trace(configured).get_trace().nodes["x"]["infer"]
        {'baseline': {'loo': True}}
    """

    def __init__(
        self,
        fn: Callable[..., Any] | None = None,
        config_fn: Callable[[Message], dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(fn)
        if not callable(config_fn):
            raise TypeError("infer_config: config_fn= must be a function of the message")
        self.config_fn = config_fn

    def _process_sample(self, msg: Message) -> None:
        msg.infer.update(self.config_fn(msg))

    def _process_param(self, msg: Message) -> None:
        msg.infer.update(self.config_fn(msg))
