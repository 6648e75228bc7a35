"""``infer_discrete``: posterior samples or the MAP of a model's enumerated sites.

The model runs once under :class:`~ppl.handlers.enum.enum`, its log-factors are
contracted by variable elimination (:func:`~inference.enum.plated.contract_plated`),
keeping, for each variable eliminated, the joint factor it was summed out of.
Going back through the eliminations in reverse order, each variable is drawn
from its joint factor given the variables already drawn: forward filtering,
backward sampling (Frühwirth-Schnatter 1994; on a chain, the forward-backward
sampler). With ``temperature=0`` the sums are maxima and the draws are
arg-maxima: the Viterbi algorithm (Viterbi 1967), exact joint MAP on a chain
and, by max-product variable elimination, on any plated model it can
contract. The model then runs again with those values (and the first run's
values of its other latent sites), and its return value is returned.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch

from inference.enum.contract import Factor
from inference.enum.factors import enumerated_variables, plate_scales, site_factor
from inference.enum.plated import PlatedFactor, contract_plated
from ppl.handlers import block, enum, replay, trace
from ppl.runtime import Message
from ppl.trace_struct import Trace

__all__ = ["infer_discrete"]


def _take(joint: Factor, var: str, index: Factor) -> Factor:
    # Conditions `joint` on `var = index` (an index Factor over plate labels).
    order = tuple(d for d in joint.dims if d != var) + (var,)
    tensor = joint.aligned(order)
    idx = index.aligned(order[:-1]).expand(tensor.shape[:-1]).unsqueeze(-1)
    return Factor(tensor.gather(-1, idx).squeeze(-1), order[:-1])


def _draw(joint: Factor, var: str, temperature: float) -> Factor:
    order = tuple(d for d in joint.dims if d != var) + (var,)
    logits = joint.aligned(order)
    if temperature == 1:
        # Gumbel-max: argmax(logits + G) is distributed as softmax(logits).
        uniform = torch.rand_like(logits).clamp(min=torch.finfo(logits.dtype).tiny)
        logits = logits - torch.log(-torch.log(uniform))
    return Factor(logits.argmax(-1), order[:-1])


def _backward(record: list[Any], variables: Iterable[str], temperature: float) -> dict[str, Factor]:
    indices: dict[str, Factor] = {}
    for var, joint, _ in reversed(record):
        for other in [d for d in joint.dims if d in variables and d != var]:
            joint = _take(joint, other, indices[other])
        indices[var] = _draw(joint, var, temperature)
    return indices


def _site_value(site: Message, index: Factor) -> torch.Tensor:
    frames = {f.name: f.dim for f in site.cond_indep_stack if f.dim is not None}
    depth = max([-d for d in frames.values()], default=0)
    shape = [1] * depth
    for label, size in index.sizes.items():
        shape[frames[label]] = size
    layout = tuple(sorted(index.dims, key=lambda label: frames[label]))
    idx = index.aligned(layout).reshape(shape) if depth else index.tensor
    support = site.fn.enumerate_support(expand=False)
    support = support.reshape((support.shape[0],) + tuple(site.fn.event_shape))
    return support[idx]


def _drawn_per_branch(site: Message) -> Any:
    # A sampled (not enumerated) latent whose draw depends on enumerated values.
    return not site.is_observed and "_enum_dim" not in site.infer and site.infer.get("_enum_dims")


def _fixed_trace(tr: Trace, indices: Mapping[str, Any]) -> Trace:
    fixed = tr.copy()
    for name, site in list(fixed.nodes.items()):
        if site.type != "sample":
            continue
        site.infer = {
            k: v for k, v in site.infer.items() if not k.startswith("_") and k != "enumerate"
        }
        if name in indices:
            site.value = _site_value(tr.nodes[name], indices[name])
        elif _drawn_per_branch(tr.nodes[name]) and _has_enum_shape(tr.nodes[name]):
            fixed.remove_node(name)
    return fixed


def _has_enum_shape(site: Message) -> bool:
    value = site.value
    batch_dims = value.dim() - len(site.fn.event_shape)
    return any(value.shape[d] > 1 for d in site.infer["_enum_dims"] if -d <= batch_dims)


def _factors(tr: Trace) -> list[PlatedFactor]:
    return [
        site_factor(s)
        for s in tr.nodes.values()
        if s.type == "sample" and not (_drawn_per_branch(s) and _has_enum_shape(s))
    ]


def _run(
    model: Callable[..., Any],
    first_available_dim: int | None,
    temperature: float,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    # The first run is hidden from outer handlers: only the final run is the model's.
    tracer = trace(enum(model, first_available_dim=first_available_dim))
    tr = block(tracer.get_trace)(*args, **kwargs)
    tr.compute_log_prob()
    variables = enumerated_variables(tr)
    record: list[Any] = []
    op = "max" if temperature == 0 else "logsumexp"
    contract_plated(_factors(tr), set(variables), variables, plate_scales(tr), op, record)
    indices = _backward(record, variables, temperature)
    return replay(model, trace=_fixed_trace(tr, indices))(*args, **kwargs)


def infer_discrete(
    fn: Callable[..., Any] | None = None,
    first_available_dim: int | None = None,
    temperature: float = 1,
) -> Any:
    """Wraps a model so its enumerated sites take posterior draws (or the MAP).

    Sites marked ``infer={"enumerate": "parallel"}`` (e.g. by
    ``config_enumerate``) are drawn jointly from their posterior given the
    observations and the model's other latent sites; trace the wrapped model
    to read them.

    Args:
        fn: the model; omit it to use ``infer_discrete(...)`` as a decorator.
        first_available_dim: the rightmost dim enumeration may use,
            ``-(max_plate_nesting + 1)``.
        temperature: ``1`` draws from the posterior (forward filtering,
            backward sampling); ``0`` returns the joint MAP (Viterbi).

    Returns:
        A function with the model's signature returning its return value.

    Raises:
        ValueError: for a missing ``first_available_dim`` or another
            temperature.

    Example:
        >>> import torch, ppl
        >>> from distributions import Bernoulli, Normal
        >>> def model():
        ...     z = ppl.sample("z", Bernoulli(0.5), infer={"enumerate": "parallel"})
        ...     ppl.sample("x", Normal(3.0 * z, 1.0), obs=torch.tensor(2.9))
        ...     return z
        >>> float(infer_discrete(model, first_available_dim=-1, temperature=0)())
        1.0
    """
    if fn is None:
        return functools.partial(
            infer_discrete, first_available_dim=first_available_dim, temperature=temperature
        )
    if not isinstance(first_available_dim, int) or first_available_dim >= 0:
        raise ValueError(
            "infer_discrete: first_available_dim must be a negative int, "
            f"-(max_plate_nesting + 1), got {first_available_dim!r}"
        )
    if temperature not in (0, 1):
        raise ValueError(
            f"infer_discrete: temperature must be 0 (MAP) or 1 (posterior draws), "
            f"got {temperature!r}"
        )

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return _run(fn, first_available_dim, temperature, args, kwargs)

    return wrapped
