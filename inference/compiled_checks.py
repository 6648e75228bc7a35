"""Tensor-side checks of a compiled SVI step: data validation and finiteness flags.

Eager validation decides on the host whether to raise (``.item()``), which a
compiled program cannot do. Inside a compiled step the same checks are
computed as boolean tensors and returned with the loss; when one is false
the step applies nothing and :class:`~inference.SVI` reruns it eagerly with
validation on, so the user gets the eager error message word for word.

What is checked: every tensor argument of every sample site's distribution
(and of the distributions it wraps) against its ``arg_constraints``, and
every observed value against its distribution's support. Parameters reach
distributions through ``transform_to`` and so always satisfy their
constraints; they are checked anyway, as part of the arguments, because a
transformed value can still underflow (``exp`` to 0) and eager validation
would then raise too.
"""

from __future__ import annotations

from typing import Any

import torch

from distributions.constraints import is_dependent
from ppl.runtime import Message
from ppl.trace_struct import Trace

__all__ = ["data_checks", "site_finiteness"]


def _argument_checks(dist: Any) -> list[torch.Tensor]:
    checks = []
    while dist is not None:
        for name, constraint in getattr(dist, "arg_constraints", {}).items():
            value = vars(dist).get(name)
            if isinstance(value, torch.Tensor) and not is_dependent(constraint):
                checks.append(constraint.check(value).all())
        dist = getattr(dist, "base_dist", None)
    return checks


def _observation_check(site: Message) -> list[torch.Tensor]:
    support = site.fn.support
    if is_dependent(support) or not isinstance(site.value, torch.Tensor):
        return []
    return [support.check(site.value).all()]


def data_checks(traces: list[Trace]) -> torch.Tensor:
    """Whether every argument and observation of the traces' sample sites is valid.

    Args:
        traces: model and guide traces of one estimate (every particle's).

    Returns:
        A boolean scalar tensor.

    Example:
        >>> import ppl
        >>> from distributions import Normal
        >>> from ppl.handlers import trace
        >>> def model(y):
        ...     ppl.sample("y", Normal(0.0, 1.0), obs=y)
        >>> with ppl.validation_enabled(False):
        ...     tr = trace(model).get_trace(torch.tensor(1.0))
        >>> data_checks([tr]).item()
        True
    """
    checks = [torch.tensor(True)]
    for tr in traces:
        for site in tr.nodes.values():
            if site.type != "sample":
                continue
            checks.extend(_argument_checks(site.fn))
            if site.is_observed:
                checks.extend(_observation_check(site))
    return torch.stack(checks).all()


def site_finiteness(traces: list[Trace]) -> tuple[list[str], list[torch.Tensor]]:
    """Per sample site, whether its log-density and value are finite (for the error message).

    Returns:
        ``(names, flags)``: site names and one boolean scalar tensor each.
    """
    found: dict[str, torch.Tensor] = {}
    for tr in traces:
        for name, site in tr.nodes.items():
            if site.type != "sample":
                continue
            flag = found.get(name, torch.tensor(True))
            for value in (site.log_prob, site.value):
                if isinstance(value, torch.Tensor) and value.is_floating_point():
                    flag = flag & torch.isfinite(value).all()
            found[name] = flag
    return list(found), list(found.values())
