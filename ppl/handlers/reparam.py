"""``reparam``: rewrites chosen sample sites with reparameterizers (:mod:`ppl.reparam`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ppl.runtime import Message, Messenger, get_stack

__all__ = ["reparam"]


class reparam(Messenger):
    """Reparameterizes the sample sites that ``config`` names.

    Each chosen site is handed to its reparameterizer, which draws auxiliary
    sites through the ordinary handler stack and returns the site's new
    distribution and value. A site rewritten as a function of its auxiliary
    sites (``LocScaleReparam``, ``TransformReparam``) is then recorded like a
    ``ppl.deterministic`` site: observed, never scored, kept by
    ``Predictive``. Build guides on the reparameterized model
    (``AutoNormal(reparam(model, config))``): they see the auxiliary sites.

    The auxiliary sites pass through ``config`` too, as in Pyro, so one
    handler can chain reparameterizers (``{"y": TransformReparam(), "y_base":
    LocScaleReparam(0)}``); a reparameterizer is never applied to the
    auxiliary sites of its own kind of rewrite in progress, so a catch-all
    ``config`` function cannot recurse forever. Deterministic sites
    (``ppl.deterministic``, or sites an inner ``reparam`` already rewrote) are
    left alone.

    Handlers inside this one (closer to the model) act first: a site they
    already gave a value (``condition``, ``substitute``) is left alone; to fix
    a reparameterized site from outside, name its auxiliary sites (such as
    ``"theta_decentered"``).

    Args:
        fn: the model.
        config: a dict of site name to reparameterizer (or ``None``: leave the
            site), or a function of the sample message returning one or ``None``.

    Raises:
        TypeError: when ``config`` is neither, or a dict value is not a
            reparameterizer (it needs an ``apply(msg)`` method).

    Example:
        >>> import ppl
        >>> from distributions import Normal
        >>> from ppl.reparam import LocScaleReparam
        >>> def model():
        ...     return ppl.sample("x", Normal(3.0, 2.0))
        >>> tr = ppl.handlers.trace(reparam(model, config={"x": LocScaleReparam(0)})).get_trace()
        >>> x, d = tr.nodes["x"]["value"], tr.nodes["x_decentered"]["value"]
        >>> bool(x == 3.0 + 2.0 * d)
        True
    """

    def __init__(self, fn: Callable | None = None, config: dict | Callable | None = None) -> None:
        super().__init__(fn)
        _check_config(config)
        # _check_config has rejected None (and anything else neither a dict nor callable).
        self.config: dict[str, Any] | Callable[[Message], Any] = config  # type: ignore[assignment]

    def _in_progress(self, kind: type) -> bool:
        # Whether this handler is applying a `kind` reparameterizer in this thread:
        # the marker sits on the thread's own handler stack (dynamo traces it too).
        return any(
            isinstance(h, _Applying) and h.owner is self and h.kind is kind for h in get_stack()
        )

    def _lookup(self, msg: Message) -> Any:
        if isinstance(self.config, dict):
            return self.config.get(msg.name)
        return self.config(msg)

    def _process_sample(self, msg: Message) -> None:
        if msg.infer.get("_deterministic"):
            return  # a recorded value: nothing to rewrite
        if msg.value is not None and not msg.is_observed:
            return
        reparameterizer = self._lookup(msg)
        if reparameterizer is None:
            return
        kind = type(reparameterizer)
        if self._in_progress(kind):
            return
        site = {"name": msg.name, "fn": msg.fn, "value": msg.value, "is_observed": msg.is_observed}
        with _Applying(self, kind):
            new = reparameterizer.apply(site)
        msg.fn, msg.value, msg.is_observed = new["fn"], new["value"], new["is_observed"]
        if new.get("deterministic"):
            msg.mask = False
            msg.infer["_deterministic"] = True
            msg.done = True


class _Applying(Messenger):
    # Marks a reparameterizer of `kind` at work for the handler `owner`; it
    # handles nothing, the sites drawn inside pass through it untouched.

    def __init__(self, owner: reparam, kind: type) -> None:
        super().__init__()
        self.owner = owner
        self.kind = kind


def _check_config(config: object) -> None:
    if isinstance(config, dict):
        for name, value in config.items():
            if value is not None and not callable(getattr(value, "apply", None)):
                raise TypeError(
                    f"reparam: config['{name}'] must be a reparameterizer such as "
                    f"LocScaleReparam(0) (with an apply(msg) method), got {type(value).__name__}"
                )
        return
    if not callable(config):
        raise TypeError(
            f"reparam: config= must be a dict of site name to reparameterizer, or a function "
            f"of the site returning one or None, got {type(config).__name__}"
        )
