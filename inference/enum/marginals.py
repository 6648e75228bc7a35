"""Posterior marginals of a model's enumerated sites, by differentiating the log-evidence.

For a sum-product ``log Z = log sum_x exp(sum_f log phi_f(x))``, adding a zero
bias ``b_v`` to the log-factor of variable ``v`` gives
``d log Z / d b_v(k) = p(v = k | data)``: one backward pass through the
variable elimination yields every marginal at once, the forward-backward
algorithm on a chain (Darwiche 2003, "A differential approach to inference in
Bayesian networks", JACM 50). Inside a plate, the bias has one entry per
element, and the gradient is that element's marginal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from distributions import Categorical
from inference.enum.contract import Factor
from inference.enum.factors import enumerated_variables, plate_scales, site_factor
from inference.enum.plated import contract_plated, reduce_plates
from inference.enum.runs import enum_traces
from ppl.runtime import Message

__all__ = ["compute_marginals"]


def _biased(factor: Factor) -> tuple[Factor, torch.Tensor]:
    bias = torch.zeros(factor.tensor.shape, requires_grad=True)
    return Factor(factor.tensor + bias, factor.dims), bias


def _layout(site: Message, probs: Factor) -> torch.Tensor:
    # Puts the plate labels of a marginal at the site's plate dims, support last.
    frames = {f.name: f.dim for f in site.cond_indep_stack if f.dim is not None}
    depth = max([-d for d in frames.values()], default=0)
    labels = sorted((d for d in probs.dims if d != site.name), key=lambda d: frames[d])
    tensor = probs.aligned((*labels, site.name))
    shape = [1] * depth + [tensor.shape[-1]]
    for label in labels:
        shape[frames[label] - 1] = probs.sizes[label]
    return tensor.reshape(shape)


def compute_marginals(
    model: Callable[..., Any],
    guide: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    first_dim: int,
) -> dict[str, Any]:
    """``site name -> Categorical`` posterior marginals of the model-enumerated sites.

    Args:
        model, guide: the programs; the guide may sample other latents (the
            marginals are then conditional on its draw) but not enumerate.
        args, kwargs: their arguments.
        first_dim: the rightmost dim enumeration may use.

    Returns:
        A dict of :class:`~distributions.Categorical` over the positions of
        each site's support, batched over the site's plates.

    Raises:
        ValueError: when the guide enumerates sites.

    Example:
        >>> import torch, ppl
        >>> from distributions import Bernoulli, Normal
        >>> def model():
        ...     z = ppl.sample("z", Bernoulli(0.5), infer={"enumerate": "parallel"})
        ...     ppl.sample("x", Normal(4.0 * z, 1.0), obs=torch.tensor(4.0))
        >>> marginals = compute_marginals(model, lambda: None, (), {}, first_dim=-1)
        >>> round(float(marginals["z"].probs[1]), 4)  # 1 / (1 + exp(-8))
        0.9997
    """
    model_trace, guide_trace, _ = next(iter(enum_traces(model, guide, args, kwargs, first_dim)))
    if enumerated_variables(guide_trace):
        raise ValueError(
            "compute_marginals: the guide enumerates sites "
            f"{sorted(enumerated_variables(guide_trace))}; marginals are computed for "
            "model-enumerated sites only, so sample those sites in the guide"
        )
    variables = enumerated_variables(model_trace)
    scales = plate_scales(model_trace, guide_trace)
    factors, biases, labels = [], {}, {}
    for site in model_trace.nodes.values():
        if site.type != "sample":
            continue
        pf = site_factor(site, "model")
        if site.name in variables:
            labels[site.name] = pf.factor.dims
            pf.factor, biases[site.name] = _biased(pf.factor)
        factors.append(pf)
    with torch.enable_grad():
        terms = contract_plated(factors, set(variables), variables, scales)
        log_z = sum(reduce_plates(t.factor, t.factor.dims, scales).tensor for t in terms)
        grads = torch.autograd.grad(log_z, list(biases.values()))
    marginals = {}
    for name, grad in zip(biases, grads):
        site = model_trace.nodes[name]
        probs = _sum_to_own(Factor(grad, labels[name]), name, site)
        marginals[name] = Categorical(probs=_layout(site, probs))
    return marginals


def _sum_to_own(probs: Factor, name: str, site: Message) -> Factor:
    # The bias spans the site's parents too; the marginal of the site sums them out.
    own = {name} | {f.name for f in site.cond_indep_stack if f.dim is not None}
    extra = [i for i, d in enumerate(probs.dims) if d not in own]
    tensor = probs.tensor.sum(extra) if extra else probs.tensor
    dims = tuple(d for d in probs.dims if d in own)
    scale = 1.0
    for f in site.cond_indep_stack:
        if f.dim is not None:
            scale *= f.scale
    return Factor(tensor / scale, dims)
