"""``TransformReparam``: sample a transformed variable's base, record its image.

For ``y ~ TransformedDistribution(base, [t_1, ..., t_n])`` the site becomes
``x ~ base`` (the site ``{name}_base``) and ``y = t_n(...t_1(x))`` recorded
as a deterministic site. The joint is unchanged by the change-of-variables
formula, ``log p_base(x) = log p_Y(y) + log|det dy/dx|``; the guide then
works in the space of ``x``, where a complicated ``y`` (a flow's output, a
skewed positive variable) is often simple.
"""

from distributions import TransformedDistribution
from ppl import primitives
from ppl.reparam.reparam import Reparam, as_deterministic, unwrap, wrap

__all__ = ["TransformReparam"]


class TransformReparam(Reparam):
    """Replaces a ``TransformedDistribution`` latent by its base draw ``{name}_base``.

    The site may be wrapped in ``.to_event()``. Observed sites are left as
    they are (the data are not re-expressed).

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

    def apply(self, msg):
        name, fn = msg["name"], msg["fn"]
        if msg["is_observed"]:
            return {"fn": fn, "value": msg["value"], "is_observed": True}
        inner, event_dim = unwrap(fn)
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
