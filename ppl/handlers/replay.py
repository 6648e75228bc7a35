"""``replay``: reuses the values of a recorded trace (a guide's, usually)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from ppl.runtime import Message, Messenger
from ppl.trace_struct import Trace

__all__ = ["replay"]


class replay(Messenger):
    """Makes latent sample sites take their values from a recorded trace.

    A latent site whose name is in ``trace`` takes the recorded value (and the
    recorded site's ``infer`` entries, merged over its own); observed sites
    keep their data; plates reuse the recorded subsample indices; param sites
    named in ``params`` take those values.

    Args:
        fn: the model to run.
        trace: the :class:`~ppl.trace_struct.Trace` to replay.
        params: optional dict of param name to value.

    Raises:
        RuntimeError: when a latent site of the model is observed or not a
            sample site in the replayed trace.

    Example:
        >>> import ppl
        >>> from distributions import Normal
        >>> def model():
        ...     return ppl.sample("x", Normal(0.0, 1.0))
        >>> tr = ppl.handlers.trace(model).get_trace()
        >>> bool(replay(model, trace=tr)() == tr.nodes["x"]["value"])
        True
    """

    def __init__(
        self,
        fn: Callable[..., Any] | None = None,
        trace: Trace | None = None,
        params: Mapping[str, torch.Tensor] | None = None,
    ) -> None:
        super().__init__(fn)
        if trace is None and params is None:
            raise ValueError("replay needs trace= (a Trace) or params= (a dict of param values)")
        if trace is not None and not isinstance(trace, Trace):
            raise TypeError(
                f"replay: trace= must be a Trace (e.g. from ppl.handlers.trace(guide)"
                f".get_trace(...)), got {type(trace).__name__}"
            )
        self.trace = trace
        self.params = params

    def _process_sample(self, msg: Message) -> None:
        if self.trace is None or msg.is_observed:
            return
        recorded = self.trace.nodes.get(msg.name)
        if recorded is None:
            return
        if recorded.type != "sample" or recorded.is_observed:
            kind = "observed sample" if recorded.type == "sample" else recorded.type
            raise RuntimeError(
                f"replay: site '{msg.name}' is a latent sample site in the model but a {kind} "
                "site in the replayed trace; a guide must sample each latent site it covers, "
                "without obs"
            )
        msg.value = recorded.value
        if recorded.infer:
            msg.infer = {**msg.infer, **recorded.infer}
        msg.done = True

    def _process_param(self, msg: Message) -> None:
        if self.params is not None and msg.name in self.params:
            msg.value = self.params[msg.name]
            msg.done = True

    def _process_plate(self, msg: Message) -> None:
        if self.trace is None:
            return
        recorded = self.trace.nodes.get(msg.name)
        if recorded is not None and recorded.type == "plate":
            msg.value = recorded.value
