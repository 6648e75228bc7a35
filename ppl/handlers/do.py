"""``do``: causal interventions (Pearl's do-operator) on sample sites."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ppl.runtime import Message, Messenger, apply_stack

__all__ = ["do"]


class do(Messenger):
    """Sets the sites named in ``data`` to fixed values, cutting them from their causes.

    Downstream code receives the intervened value. The original site is still
    sampled from its distribution under its own name, so a trace holds the
    value it would have taken (useful for counterfactuals), but that draw does
    not flow into the program. The intervened copy, renamed ``name + "__CF"``,
    is hidden from the handlers outside this one. This follows Pearl,
    "Causality" (2009), ch. 3, and Pyro's ``poutine.do``.

    Args:
        fn: the model.
        data: a dict of site name to intervention value.

    Example:
        >>> import ppl, torch
        >>> from distributions import Normal
        >>> def model():
        ...     x = ppl.sample("x", Normal(0.0, 1.0))
        ...     return ppl.sample("y", Normal(x, 0.001))
        >>> round(do(model, data={"x": torch.tensor(10.0)})().item())
        10
    """

    def __init__(
        self, fn: Callable[..., Any] | None = None, data: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(fn)
        if not isinstance(data, dict):
            raise TypeError(f"do: data= must be a dict of site name to value, got {data!r}")
        self.data = data
        self._natural: set[int] = set()  # ids of the natural copies this handler re-issues

    def _process_sample(self, msg: Message) -> None:
        if id(msg) in self._natural or self.data.get(msg.name) is None:
            return
        natural = Message(
            type="sample",
            name=msg.name,
            fn=msg.fn,
            args=msg.args,
            kwargs=dict(msg.kwargs),
            infer=dict(msg.infer),
        )
        self._natural.add(id(natural))
        try:
            apply_stack(natural)
        finally:
            self._natural.discard(id(natural))
        msg.name = msg.name + "__CF"
        msg.value = self.data[natural.name]
        msg.is_observed = False
        msg.done = True
        msg.stop = True
