"""``trace``: records every site of a model run into a :class:`~ppl.trace_struct.Trace`."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

from ppl import validation
from ppl.runtime import Message, Messenger
from ppl.trace_struct import Trace, check_plate_reuse

__all__ = ["trace"]


class trace(Messenger):
    """Records the sample, param and plate sites of a run, and its return value.

    Sites are recorded after every handler processed them, so the trace holds
    their final values, scales, masks and plates. The record of a site is the
    message itself. An error raised inside the traced model is re-raised with
    the trace's :meth:`~ppl.trace_struct.Trace.format_shapes` table appended.

    A plate name seen again in the same run reuses the first plate's subsample
    indices (and must keep its size and dim).

    Args:
        fn: the model to trace.
        param_only: record only param sites.

    Attributes:
        trace: the :class:`~ppl.trace_struct.Trace` of the latest run.

    Example:
        >>> import ppl
        >>> from distributions import Normal
        >>> def model():
        ...     return ppl.sample("x", Normal(0.0, 1.0))
        >>> tr = trace(model).get_trace()
        >>> tr.nodes["x"]["value"] is tr.nodes["_RETURN"]["value"]
        True
        >>> trace(lambda n: n).get_trace(3).nodes["_INPUT"]["args"]
        (3,)
        >>> with trace() as tracer:
        ...     _ = model()
        >>> tracer.trace.stochastic_nodes
        ['x']
    """

    def __init__(self, fn: Callable[..., Any] | None = None, param_only: bool = False) -> None:
        super().__init__(fn)
        self.param_only = param_only
        self.trace = Trace()
        if param_only:
            # Only param messages are recorded: apply_stack then calls nothing
            # of this handler for the other types (SVI wraps every step in one).
            # The class's own dispatch is kept for params, overrides included.
            cls = type(self)
            self._process_dispatch = _only_params(cls._process_dispatch)
            self._postprocess_dispatch = _only_params(cls._postprocess_dispatch)

    def __enter__(self) -> trace:
        self.trace = Trace()
        return super().__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        super().__exit__(exc_type, exc_value, traceback)
        if exc_value is not None and isinstance(exc_value, Exception):
            annotated = validation.attach_shapes(exc_value, self.trace.format_shapes())
            if annotated is not exc_value:
                raise annotated from None
        return None

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with self:
            if not self.param_only:
                self.trace.set_input(args, kwargs)
            value = fn(*args, **kwargs)
            if not self.param_only:
                self.trace.add_node(
                    "_RETURN", Message(type="return", name="_RETURN", value=value, done=True)
                )
        return value

    def get_trace(self, *args: Any, **kwargs: Any) -> Trace:
        """Runs the model with these arguments and returns its trace."""
        self(*args, **kwargs)
        return self.trace

    def _postprocess_sample(self, msg: Message) -> None:
        if not self.param_only:
            self.trace.add_node(msg.name, msg)

    def _postprocess_param(self, msg: Message) -> None:
        self.trace.add_node(msg.name, msg)

    def _process_plate(self, msg: Message) -> None:
        old = self.trace.nodes.get(msg.name)
        if old is not None and old.type == "plate":
            check_plate_reuse(old, msg)
            msg.value = old.value

    def _postprocess_plate(self, msg: Message) -> None:
        if not self.param_only:
            self.trace.add_node(msg.name, msg)


def _only_params(dispatch: dict[str, Any]) -> dict[str, Any]:
    method = dispatch.get("param")  # an _EveryType table answers for any type
    return {} if method is None else {"param": method}
