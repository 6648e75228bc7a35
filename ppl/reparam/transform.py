"""``TransformReparam``: sample a transformed variable's base, record its image.

For ``y ~ TransformedDistribution(base, [t_1, ..., t_n])`` the site becomes
``x ~ base`` (the site ``{name}_base``) and ``y = t_n(...t_1(x))`` recorded
as a deterministic site. The joint is unchanged by the change-of-variables
formula, ``log p_base(x) = log p_Y(y) + log|det dy/dx|``; the guide then
works in the space of ``x``, where a complicated ``y`` (a flow's output, a
skewed positive variable) is often simple.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from distributions import LogNormal, Normal, TransformedDistribution
from distributions.transforms import ExpTransform
from ppl import primitives
from ppl.reparam.reparam import Reparam, as_deterministic, unwrap, wrap

__all__ = ["TransformReparam", "is_transformed", "register_transformed_view"]

# Families that are transformed distributions in law but not in class (torch
# builds them as TransformedDistribution subclasses; ours have their own
# samplers): their class -> a function giving the equal TransformedDistribution.
_VIEWS: dict[type, Callable] = {}


def register_transformed_view(cls: type) -> Callable[[Callable], Callable]:
    """Registers ``view(fn) -> TransformedDistribution`` equal in law to ``fn`` of class ``cls``.

    ``TransformReparam`` then accepts sites of that family.

    Example:
        >>> from distributions import LogNormal
        >>> LogNormal in _VIEWS
        True
    """

    def register(view: Callable) -> Callable:
        _VIEWS[cls] = view
        return view

    return register


def is_transformed(fn: Any) -> bool:
    """Whether ``TransformReparam`` applies to ``fn`` (once ``Independent`` is peeled off).

    Example:
        >>> from distributions import LogNormal, Normal
        >>> is_transformed(LogNormal(0.0, 1.0)), is_transformed(Normal(0.0, 1.0))
        (True, False)
    """
    return isinstance(fn, TransformedDistribution) or type(fn) in _VIEWS


@register_transformed_view(LogNormal)
def _log_normal_view(fn: Any) -> TransformedDistribution:
    return TransformedDistribution(Normal(fn.loc, fn.scale), [ExpTransform()])


class TransformReparam(Reparam):
    """Replaces a ``TransformedDistribution`` latent by its base draw ``{name}_base``.

    The site may be wrapped in ``.to_event()``; ``LogNormal`` sites are
    treated as ``exp`` of a ``Normal`` (see :func:`register_transformed_view`
    for other families). Observed sites are left as they are (the data are
    not re-expressed).

    Raises:
        TypeError: at the site, when its distribution is not a
            ``TransformedDistribution``.

    Example:
        >>> import ppl, torch
        >>> from distributions import Normal, TransformedDistribution
        >>> from distributions.transforms import ExpTransform
        >>> def model():
        ...     return ppl.sample("y", TransformedDistribution(Normal(0.0, 1.0), [ExpTransform()]))
        >>> tr = ppl.handlers.trace(
        ...     ppl.handlers.reparam(model, config={"y": TransformReparam()})).get_trace()
        >>> bool(tr.nodes["y"]["value"] == tr.nodes["y_base"]["value"].exp())
        True
    """

    def apply(self, msg: dict) -> dict:
        name, fn = msg["name"], msg["fn"]
        if msg["is_observed"]:
            return {"fn": fn, "value": msg["value"], "is_observed": True}
        inner, event_dim = unwrap(fn)
        if type(inner) in _VIEWS:
            inner = _VIEWS[type(inner)](inner)
        if not isinstance(inner, TransformedDistribution):
            raise TypeError(
                f"TransformReparam at site '{name}': expected a TransformedDistribution, got "
                f"{type(inner).__name__}; write the site as TransformedDistribution(base, "
                f"transforms) or remove '{name}' from the config"
            )
        base_event_dim = event_dim
        for t in inner.transforms:
            base_event_dim += t.domain.event_dim - t.codomain.event_dim
        value = primitives.sample(f"{name}_base", wrap(inner.base_dist, base_event_dim))
        for t in inner.transforms:
            value = t(value)
        return as_deterministic(value, event_dim)
