"""``LocScaleReparam``: (partial) non-centering of a location-scale latent variable.

For ``x ~ F(loc, scale)`` from a location-scale family, draw
``d ~ F(c * loc, scale ** c)`` and set
``x = loc + scale ** (1 - c) * (d - c * loc)``, which has the law of ``x``
for every centeredness ``c`` in ``[0, 1]``. ``c = 1`` is the model as
written (centered); ``c = 0`` gives ``d ~ F(0, 1)`` and
``x = loc + scale * d``, the non-centered form that removes the funnel of
hierarchical models (Papaspiliopoulos, Roberts and Skold 2007, "A general
framework for the parametrization of hierarchical models", Statistical
Science 22). With ``centered=None`` the centeredness is a parameter in
``[0, 1]`` learned with the rest (Gorinova, Moore and Hoffman 2020,
"Automatic Reparameterisation of Probabilistic Programs", ICML).
"""

from __future__ import annotations

from typing import Any

import torch

from distributions import constraints
from ppl import primitives
from ppl.reparam.reparam import Reparam, as_deterministic, unwrap, wrap

__all__ = ["LocScaleReparam"]


def _check_centered(centered: float | torch.Tensor | None) -> float | torch.Tensor | None:
    if centered is None:
        return None
    if isinstance(centered, (int, float)) and not isinstance(centered, bool):
        if not 0.0 <= centered <= 1.0:
            raise ValueError(
                f"LocScaleReparam: centered must lie in [0, 1] (0 non-centered, 1 as written) "
                f"or be None to learn it, got {centered!r}"
            )
        return float(centered)
    if isinstance(centered, torch.Tensor):
        if not bool(((centered >= 0) & (centered <= 1)).all()):
            raise ValueError(
                f"LocScaleReparam: every entry of the centered tensor must lie in [0, 1], "
                f"got {centered}"
            )
        return centered
    raise TypeError(
        f"LocScaleReparam: centered must be a number in [0, 1], a tensor of them, or None, "
        f"got {type(centered).__name__}"
    )


class LocScaleReparam(Reparam):
    """Draws ``{name}_decentered`` and records the site as a function of it.

    Applies to latent sites of a family with ``loc`` and ``scale``
    attributes whose constructor takes them by name (``Normal``, ``Laplace``,
    ``Cauchy``, ``Gumbel``; ``StudentT`` with ``shape_params=("df",)``),
    possibly wrapped in ``.to_event()``. Observed sites are left as they are
    (re-expressing data changes neither the joint nor the posterior).

    The log joint changes by the change of variables only:
    ``log p(d) = log p(x) + (1 - c) * log(scale)`` per element.

    Args:
        centered: the centeredness ``c``: ``0`` (non-centered), ``1`` (the
            site unchanged), in between, a tensor of such values, or ``None``
            to learn it as the param ``"{name}_centered"`` (shaped like the
            site's event, started at 0.5).
        shape_params: names of further parameters passed unchanged to the
            family's constructor (``("df",)`` for ``StudentT``).

    Raises:
        ValueError, TypeError: for a centeredness outside ``[0, 1]``; at the
            site, for a distribution without ``loc`` and ``scale``.

    Example:
        >>> import ppl, torch
        >>> from distributions import Normal
        >>> def model():
        ...     tau = ppl.sample("tau", Normal(0.0, 1.0)).exp()
        ...     return ppl.sample("theta", Normal(1.0, tau))
        >>> reparam_model = ppl.handlers.reparam(model, config={"theta": LocScaleReparam(0)})
        >>> tr = ppl.handlers.trace(reparam_model).get_trace()
        >>> tr.stochastic_nodes, tr.nodes["theta"]["infer"]["_deterministic"]
        (['tau', 'theta_decentered'], True)
    """

    def __init__(
        self, centered: float | torch.Tensor | None = None, shape_params: tuple = ()
    ) -> None:
        self.centered = _check_centered(centered)
        if isinstance(shape_params, str) or not all(isinstance(p, str) for p in shape_params):
            raise TypeError(
                f"LocScaleReparam: shape_params must be a tuple of parameter names such as "
                f"('df',), got {shape_params!r}"
            )
        self.shape_params = tuple(shape_params)

    def apply(self, msg: dict) -> dict:
        name, fn = msg["name"], msg["fn"]
        unchanged = {"fn": fn, "value": msg["value"], "is_observed": msg["is_observed"]}
        if msg["is_observed"] or (isinstance(self.centered, float) and self.centered == 1.0):
            return unchanged
        inner, event_dim = unwrap(fn)
        loc, scale = self._loc_scale(name, inner)
        centered = self.centered
        if centered is None:
            centered = primitives.param(
                f"{name}_centered",
                lambda: torch.full(fn.event_shape, 0.5, dtype=loc.dtype, device=loc.device),
                constraint=constraints.unit_interval,
            )
        params = {key: getattr(inner, key) for key in self.shape_params}
        # The parameters derive from the site's own, already checked: skip the checks.
        # (_loc_scale has checked that the family takes loc and scale.)
        decentered_fn = type(inner)(  # type: ignore[call-arg]
            loc=loc * centered, scale=scale**centered, validate_args=False, **params
        )
        decentered = primitives.sample(f"{name}_decentered", wrap(decentered_fn, event_dim))
        value = loc + scale ** (1 - centered) * (decentered - centered * loc)
        return as_deterministic(value, event_dim)

    def _loc_scale(self, name: str, inner: Any) -> tuple[torch.Tensor, torch.Tensor]:
        loc, scale = getattr(inner, "loc", None), getattr(inner, "scale", None)
        if not (isinstance(loc, torch.Tensor) and isinstance(scale, torch.Tensor)):
            raise TypeError(
                f"LocScaleReparam at site '{name}': {type(inner).__name__} has no loc and scale "
                f"tensors; it applies to location-scale families such as Normal, Laplace or "
                f"StudentT (with shape_params=('df',)). Remove '{name}' from the config or use "
                f"TransformReparam for a TransformedDistribution"
            )
        return loc, scale

    def __repr__(self) -> str:
        return f"LocScaleReparam(centered={self.centered!r})"
