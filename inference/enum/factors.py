"""From trace sites to labelled log-factors: which tensor dim is which variable or plate.

A site's log-probability has a batch shape whose rightmost dims are plates
and whose dims further left hold enumerated variables (see
:class:`~ppl.handlers.enum.enum`). :func:`site_factor` names every dim: a
vectorized plate of the site by the plate's name, an enumerated variable in
view by the variable's (site) name. Dims of size 1 are dropped, plate dims
are always kept (and expanded), since reducing a plate multiplies by its
subsampling scale.

The factor holds the *unscaled* log-probability times any scale that is not
a plate's subsampling scale (a ``scale`` handler's): subsampling must be
applied after enumerated variables are summed out, not inside the sum.
"""

from __future__ import annotations

from typing import Any

import torch

from inference.enum.contract import Factor
from inference.enum.plated import PlatedFactor
from ppl.plate import CondIndepStackFrame
from ppl.runtime import Message
from ppl.trace_struct import Trace

__all__ = ["site_factor", "site_ordinal", "plate_scales", "enumerated_variables"]


def _frames(site: Message) -> list[CondIndepStackFrame]:
    return [f for f in site.cond_indep_stack if f.dim is not None]


def site_ordinal(site: Message) -> frozenset[str]:
    """The frozenset of names of the vectorized plates enclosing a site."""
    return frozenset(f.name for f in _frames(site))


def plate_scales(*traces: Trace) -> dict[str, float]:
    """``plate name -> subsampling scale`` over the vectorized plates of the traces."""
    scales = {}
    for tr in traces:
        for site in tr.nodes.values():
            if site.type == "sample":
                for f in _frames(site):
                    scales[f.name] = f.scale
    return scales


def enumerated_variables(trace: Trace) -> dict[str, frozenset[str]]:
    """``name -> ordinal`` of the sites of ``trace`` that carry an enumeration dim."""
    return {
        name: site_ordinal(site)
        for name, site in trace.nodes.items()
        if site.type == "sample" and "_enum_dim" in site.infer and not site.is_observed
    }


def _extra_scale(site: Message) -> Any:
    plate_scale = 1.0
    for f in site.cond_indep_stack:
        plate_scale *= f.scale if f.dim is not None else 1.0
    scale = site.scale
    if isinstance(scale, (int, float)) and plate_scale == 1.0:
        return scale
    return scale / plate_scale


def _masked(site: Message, scaled: bool, masked: bool = True) -> torch.Tensor:
    log_prob = site.unscaled_log_prob
    if masked and site.mask is not None and site.mask is not True:
        mask = torch.as_tensor(site.mask, device=log_prob.device)
        log_prob = torch.where(mask, log_prob, log_prob.new_zeros(()))
    if not scaled:
        return log_prob
    scale = _extra_scale(site)
    if not (isinstance(scale, (int, float)) and scale == 1.0):
        log_prob = log_prob * scale
    return log_prob


def _label_error(site: Message, dim: int, size: int, role: str) -> ValueError:
    enum_dims = site.infer.get("_enum_dims", {})
    plates = {f.dim: f.name for f in _frames(site)}
    return ValueError(
        f"{role} site '{site.name}': its log_prob has shape {tuple(site.log_prob.shape)}, "
        f"size {size} at dim {dim}, which is neither a plate of the site (plates at dims "
        f"{plates}) nor an enumerated variable in view (at dims {enum_dims}); a batch dim "
        "not declared by a plate (wrap it in ppl.plate or use .to_event), a max_plate_nesting "
        "too small, or a dependence on a variable outside the markov window (raise history)"
    )


def site_factor(
    site: Message, role: str = "model", scaled: bool = True, masked: bool = True
) -> PlatedFactor:
    """The labelled log-factor of a sample site whose ``log_prob`` is computed.

    Args:
        site: a sample site of a trace run under ``enum``.
        role: ``"model"`` or ``"guide"``, for error messages.
        scaled: include the site's scale other than plate subsampling
            (``False``: the masked, unscaled log-density, for score terms).
        masked: apply the site's mask (``False``: the density itself, e.g. a
            guide's probabilities used as weights).

    Returns:
        A :class:`~inference.enum.plated.PlatedFactor`.

    Raises:
        ValueError: when a dim of size > 1 is neither a plate of the site nor
            an enumerated variable in view, naming the site and the dim.

    Example:
        >>> import torch, ppl
        >>> from distributions import Bernoulli, Normal
        >>> from ppl.handlers import enum, trace
        >>> def model():
        ...     z = ppl.sample("z", Bernoulli(0.5), infer={"enumerate": "parallel"})
        ...     with ppl.plate("data", 3):
        ...         ppl.sample("x", Normal(z, 1.0), obs=torch.zeros(3))
        >>> tr = trace(enum(model, first_available_dim=-2)).get_trace()
        >>> tr.compute_log_prob()
        >>> pf = site_factor(tr.nodes["x"])
        >>> pf.factor.dims, sorted(pf.ordinal)
        (('z', 'data'), ['data'])
    """
    log_prob = _masked(site, scaled, masked)
    plates = {f.dim: f for f in _frames(site)}
    enum_dims = dict(site.infer.get("_enum_dims", {}))
    leftmost = min([-log_prob.dim(), *plates])
    if log_prob.dim() < -leftmost:
        log_prob = log_prob.reshape((1,) * (-leftmost - log_prob.dim()) + log_prob.shape)
    labels, keep, shape = [], [], []
    for pos in range(-log_prob.dim(), 0):
        size = log_prob.shape[pos]
        if pos in plates:
            if pos in enum_dims:
                raise ValueError(
                    f"{role} site '{site.name}': plate '{plates[pos].name}' uses dim {pos}, "
                    "which enumeration also uses; raise max_plate_nesting to at least "
                    f"{-min(plates)}"
                )
            labels.append(plates[pos].name)
            keep.append(pos)
            shape.append(plates[pos].subsample_size)
        elif size == 1:
            continue
        elif pos in enum_dims:
            labels.append(enum_dims[pos])
            keep.append(pos)
            shape.append(size)
        else:
            raise _label_error(site, pos, size, role)
    squeezed = log_prob.reshape([log_prob.shape[p] for p in keep]).expand(shape)
    return PlatedFactor(Factor(squeezed, tuple(labels)), site_ordinal(site))
