"""Model/guide pair checks an ELBO runs under validation, with errors naming the fix.

A guide must declare the same conditional independence as the model: a
plate the guide uses that the model lacks (or places at another dim, or with
another size) makes the guide's density factorise where the model's does
not, and the ELBO's per-plate scaling and Rao-Blackwellisation then disagree
between the two. Pyro's ``check_model_guide_match`` raises on the same
mismatches.

:func:`check_model_guide` bundles what an estimator needs: every scored site
of both traces has its batch dims covered by plates
(:func:`ppl.plate_checks.check_trace_plates`), and the plates match.

Example:
    >>> import ppl, torch
    >>> from distributions import Normal
    >>> def model():
    ...     with ppl.plate("data", 3):
    ...         ppl.sample("z", Normal(0.0, 1.0))
    >>> guide = model
    >>> tr = ppl.handlers.trace
    >>> check_plates_match(tr(model).get_trace(), tr(guide).get_trace())
"""

from __future__ import annotations

import math
from typing import Any

from ppl import is_validation_enabled
from ppl.plate_checks import check_trace_plates
from ppl.trace_struct import Trace

__all__ = ["check_model_guide", "check_plates_match"]

# Plates an estimator adds around both programs itself.
_ESTIMATOR_PLATES = frozenset({"num_particles_vectorized"})


def _plates_of(trace: Trace) -> Any:
    """``{plate name: (frame, first site using it)}`` over the sample sites of a trace."""
    plates = {}
    for name, site in trace.nodes.items():
        if site.type != "sample":
            continue
        for frame in site.cond_indep_stack:
            if frame.dim is not None and frame.name not in plates:
                plates[frame.name] = (frame, name)
    return plates


def _plate_sites(trace: Trace, plate_name: str) -> Any:
    return [
        name
        for name, site in trace.nodes.items()
        if site.type == "sample" and any(f.name == plate_name for f in site.cond_indep_stack)
    ]


def check_plates_match(model_trace: Trace, guide_trace: Trace) -> None:
    """Raises when the guide uses a plate the model does not, or uses it differently.

    A plate that only the model uses is fine (observations sit in plates the
    guide never sees). Sequential plates (``for i in plate(...)``) are not
    compared, as their frames exist per iteration.

    Args:
        model_trace: the model's trace (replayed against the guide's).
        guide_trace: the guide's trace.

    Raises:
        ValueError: naming the plate, the guide sites in it, and the fix; or,
            for a plate in both, the dims and sizes that differ.

    Example:
        >>> import ppl, torch
        >>> from distributions import Normal
        >>> def model():
        ...     ppl.sample("z", Normal(0.0, 1.0))
        >>> def guide():
        ...     with ppl.plate("extra", 2):
        ...         ppl.sample("z", Normal(0.0, 1.0))
        >>> tr = ppl.handlers.trace
        >>> check_plates_match(tr(model).get_trace(), tr(guide).get_trace())  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: plate 'extra' is in the guide (sites 'z') but not in the model...
    """
    model_plates = _plates_of(model_trace)
    for plate_name, (frame, _) in _plates_of(guide_trace).items():
        if plate_name in _ESTIMATOR_PLATES:
            continue
        sites = ", ".join(f"'{s}'" for s in _plate_sites(guide_trace, plate_name))
        if plate_name not in model_plates:
            raise ValueError(
                f"plate '{plate_name}' is in the guide (sites {sites}) but not in the model; "
                f"the guide must not declare independence the model lacks. Fix: put the "
                f"matching model sites in `ppl.plate('{plate_name}', {frame.size}, "
                f"dim={frame.dim})` too, or remove the plate from the guide (use "
                f".to_event() there for a vector latent)"
            )
        model_frame, model_site = model_plates[plate_name]
        if (model_frame.dim, model_frame.size) != (frame.dim, frame.size):
            raise ValueError(
                f"plate '{plate_name}' has size {frame.size} at dim {frame.dim} in the guide "
                f"(sites {sites}) but size {model_frame.size} at dim {model_frame.dim} in the "
                f"model (site '{model_site}'); give it the same size and dim= in both"
            )


def check_model_guide(
    model_trace: Trace, guide_trace: Trace, max_plate_nesting: float = math.inf
) -> None:
    """The checks an ELBO runs on a model/guide pair under validation.

    Does nothing when validation is off. Sites of both traces must have every
    batch dim covered by a plate (dims left of ``max_plate_nesting`` are left
    to enumeration), then :func:`check_plates_match`.

    Args:
        model_trace: the model's trace.
        guide_trace: the guide's trace.
        max_plate_nesting: the estimator's ``max_plate_nesting`` (every dim
            is checked by default).

    Raises:
        ValueError: from either check.

    Example:
        >>> import ppl, torch
        >>> from distributions import Normal
        >>> def model():
        ...     ppl.sample("z", Normal(torch.zeros(2), 1.0))
        >>> tr = ppl.handlers.trace(model).get_trace()
        >>> check_model_guide(tr, tr)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: sample site 'z': its log_prob has batch shape (2,), but no plate covers ...
    """
    if not is_validation_enabled():
        return
    check_trace_plates(model_trace, max_plate_nesting)
    check_trace_plates(guide_trace, max_plate_nesting)
    check_plates_match(model_trace, guide_trace)
