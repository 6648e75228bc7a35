"""``AutoReparam``: a ``reparam`` config that picks a reparameterizer for each site.

Pyro's strategy of the same name: every latent site of a transformed
distribution gets :class:`~ppl.reparam.TransformReparam` (its base site is
then considered in turn), and every latent site of a location-scale family
gets a :class:`~ppl.reparam.LocScaleReparam` whose centeredness is learned,
letting the fit choose between the centered and non-centered geometries
(Gorinova, Moore and Hoffman 2020, "Automatic Reparameterisation of
Probabilistic Programs", ICML). The choice per site is made on the first run
and kept in :attr:`AutoReparam.config`.
"""

from __future__ import annotations

from typing import Any

from ppl.handlers.reparam import reparam
from ppl.reparam.loc_scale import LocScaleReparam
from ppl.reparam.reparam import Reparam, unwrap
from ppl.reparam.transform import TransformReparam, is_transformed

__all__ = ["AutoReparam"]


class AutoReparam:
    """Chooses ``TransformReparam`` or a learnable ``LocScaleReparam`` per latent site.

    Use it as the ``config`` of :class:`ppl.handlers.reparam`, or as a
    decorator of the model. Observed sites and sites of other families are
    left alone.

    Args:
        centered: the centeredness given to each ``LocScaleReparam``;
            ``None`` (the default) learns it per site.

    Attributes:
        config: site name to the reparameterizer chosen (or ``None``), filled
            on the first run; usable as a plain ``config`` dict afterwards.

    Example:
        >>> import ppl
        >>> from distributions import Normal
        >>> @AutoReparam(centered=0.0)
        ... def model():
        ...     return ppl.sample("x", Normal(1.0, 2.0))
        >>> ppl.handlers.trace(model).get_trace().stochastic_nodes
        ['x_decentered']
    """

    def __init__(self, centered: float | None = None) -> None:
        self.centered = centered
        self.config: dict = {}

    def __call__(self, msg_or_model: Any) -> Any:
        """A site's reparameterizer (``msg`` a sample message), or the model reparameterized."""
        if callable(msg_or_model):  # a model (messages are not callable)
            return reparam(msg_or_model, config=self)
        name = msg_or_model["name"]
        if name not in self.config:
            self.config[name] = self.configure(msg_or_model)
        return self.config[name]

    def configure(self, msg: Any) -> Reparam | None:
        """The reparameterizer for one site, or ``None`` to leave it alone."""
        if msg["is_observed"] or msg["name"].endswith("_decentered"):
            return None  # data, or the noise of a LocScaleReparam already
        inner, _ = unwrap(msg["fn"])
        if is_transformed(inner):
            return TransformReparam()
        params = set(getattr(inner, "arg_constraints", {}))
        if {"loc", "scale"} <= params:
            shape_params = tuple(sorted(params - {"loc", "scale"}))
            return LocScaleReparam(self.centered, shape_params=shape_params)
        return None

    def __repr__(self) -> str:
        return f"AutoReparam(centered={self.centered!r})"
