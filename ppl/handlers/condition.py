"""``condition`` and ``uncondition``: turn latent sites into data and back."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ppl.runtime import Message, Messenger
from ppl.trace_struct import Trace

__all__ = ["condition", "uncondition"]


def _site_values(data: Mapping[str, Any] | Trace, handler: str) -> Mapping[str, Any]:
    if isinstance(data, Trace):
        return {n: s.value for n, s in data.nodes.items() if s.type == "sample"}
    if not isinstance(data, dict):
        raise TypeError(
            f"{handler}: data= must be a dict of site name to value (or a Trace), "
            f"got {type(data).__name__}"
        )
    return data


class condition(Messenger):
    """Observes the sites named in ``data`` at the given values.

    Each named sample site becomes observed (``is_observed=True``) with the
    value from ``data``, as if the model had passed ``obs=``; inference then
    scores it instead of sampling it.

    Args:
        fn: the model.
        data: a dict of site name to observed value, or a trace whose sample
            values are used.

    Example:
        >>> import ppl, torch
        >>> from distributions import Normal
        >>> def model():
        ...     return ppl.sample("x", Normal(0.0, 1.0))
        >>> tr = ppl.handlers.trace(condition(model, data={"x": torch.tensor(0.5)})).get_trace()
        >>> tr.nodes["x"]["is_observed"], tr.nodes["x"]["value"].item()
        (True, 0.5)
    """

    def __init__(
        self, fn: Callable[..., Any] | None = None, data: Mapping[str, Any] | Trace | None = None
    ) -> None:
        super().__init__(fn)
        self.data = _site_values({} if data is None else data, "condition")

    def _process_sample(self, msg: Message) -> None:
        if msg.name in self.data:
            value = self.data[msg.name]
            if value is not None:
                msg.value = value
                msg.is_observed = True


class uncondition(Messenger):
    """Turns observed sites back into latent ones, which are then sampled.

    The observation is kept in ``msg.infer["obs"]`` and flagged with
    ``msg.infer["was_observed"] = True``, so a handler further out can still
    find it.

    Args:
        fn: the model.

    Example:
        >>> import ppl, torch
        >>> from distributions import Normal
        >>> def model():
        ...     return ppl.sample("y", Normal(0.0, 1.0), obs=torch.tensor(3.0))
        >>> tr = ppl.handlers.trace(uncondition(model)).get_trace()
        >>> tr.nodes["y"]["is_observed"], tr.nodes["y"]["infer"]["was_observed"]
        (False, True)
    """

    def _process_sample(self, msg: Message) -> None:
        if msg.is_observed and msg.mask is not False:
            msg.infer["was_observed"] = True
            msg.infer["obs"] = msg.value
            msg.is_observed = False
            msg.value = None
            msg.done = False
