"""``config_enumerate``: marks every discrete latent site of a model for enumeration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ppl.handlers.infer_config import infer_config
from ppl.runtime import Message

__all__ = ["config_enumerate"]

_STRATEGIES = ("parallel", "sequential", None)


def config_enumerate(
    fn: Callable[..., Any] | None = None, default: str = "parallel", expand: bool = False
) -> Any:
    """Sets ``infer["enumerate"]`` on each latent sample site that can be enumerated.

    Sites that already say how to enumerate (``infer={"enumerate": ...}``),
    observed sites and sites without a finite support are left alone. Usable as
    ``config_enumerate(model)``, ``@config_enumerate`` and
    ``@config_enumerate(default="sequential")``.

    Args:
        fn: the model or guide.
        default: ``"parallel"`` (all values at once, in a fresh tensor dim),
            ``"sequential"`` (one run per value; guides only) or ``None``
            (leave sites unmarked, e.g. to override an outer default).
        expand: also expand enumerated values over the batch shape.

    Raises:
        ValueError: for another ``default``.

    Example:
        >>> import ppl
        >>> from distributions import Bernoulli, Normal
        >>> @config_enumerate
        ... def model():
        ...     ppl.sample("z", Bernoulli(0.5))
        ...     ppl.sample("y", Normal(0.0, 1.0))
        >>> tr = ppl.handlers.trace(model).get_trace()
        >>> tr.nodes["z"].infer, tr.nodes["y"].infer
        ({'enumerate': 'parallel', 'expand': False}, {})
    """
    if default not in _STRATEGIES:
        raise ValueError(
            f"config_enumerate: default must be 'parallel', 'sequential' or None, got {default!r}"
        )

    def config_fn(msg: Message) -> dict[str, Any]:
        if msg.type != "sample" or msg.is_observed or "enumerate" in msg.infer:
            return {}
        if not getattr(msg.fn, "has_enumerate_support", False):
            return {}
        return {"enumerate": default, "expand": expand}

    if fn is None:
        return lambda model: infer_config(model, config_fn=config_fn)
    return infer_config(fn, config_fn=config_fn)
