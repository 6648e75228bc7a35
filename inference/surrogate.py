"""The one surrogate-loss construction behind every ELBO.

For a particle's model and guide traces the ELBO is ``sum_c c``, over the
*costs* ``c``: each model site's scaled, masked ``log p`` and each guide site's
scaled, masked ``-log q``. The gradient estimator is the derivative of a
surrogate built with DiCE, the "infinitely differentiable Monte Carlo
estimator" (Foerster et al. 2018, arXiv 1802.05098):

``L = sum_c box(W_c) * c  +  sum_w (1 - box({w})) * stop(b_w)``,
``box(W) = exp(tau - stop(tau))``, ``tau = sum_{w in W} log q(w)``,

where ``W_c`` are the score-function guide sites whose draws can change ``c``
(the estimator's *credit rule*: all of them for ``Trace_ELBO``, the graph's
ancestors for ``TraceGraph_ELBO``) and ``b_w`` is a baseline (Mao et al. 2019,
"A Baseline for Any Order Gradient Estimation in Stochastic Computation Graphs").
``box`` is 1 in value, so ``L`` equals the ELBO, and derivatives of every order
of ``L`` are unbiased: Hessian-vector products of the loss are right too. At
first order ``L`` gives the classic estimator, pathwise terms plus
``grad log q(w) * (cost(w) - b_w)`` (Schulman et al. 2015, arXiv 1506.05254),
with the same variance.

Details that keep it so:

* ``log q(w)`` in ``box`` is *unscaled and unmasked*: a masked or scaled guide
  site still drew its value, so its score still multiplies the costs the draw
  drives, while its own ``-log q`` cost is masked and scaled like any cost
  (Pyro's semantics for the loss value).
* For a score-function site the direct derivative of its own ``-log q`` cost
  has expectation zero at first order; the term ``scale * mask * (box(w) - 1)``
  removes it sample by sample (it is a constant baseline, so it adds nothing
  in expectation at any order) and keeps first-order variance as before.
* Plates Rao-Blackwellize: element ``i`` of a vectorized plate shared by ``w``
  and ``c`` credits only element ``i`` (:func:`restrict_to_plates`).
* Learned baselines are fitted by adding ``(cost(w) - b_w)^2`` to the loss with
  zero value, so minimizing the loss trains them towards the cost.

The loss returned is ``-(elbo + L - stop(L)) + (fit - stop(fit))``: its value
is exactly ``-ELBO``. As ``box`` is exactly 1 in value (``exp(0)``) and the
baseline and cancelling terms are exactly 0, ``L`` itself has the value of the
ELBO, so that loss is computed as ``-L + (fit - stop(fit))``, one sum of the
parts; the derivatives are the same at every order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from distributions import Independent
from distributions.expanded import ExpandedDistribution
from distributions.masked import MaskedDistribution
from distributions.number_minus import KeptNumber, number_minus
from ppl.runtime import Message
from ppl.trace_struct import Trace, scale_and_mask

__all__ = ["Cost", "site_costs", "combine", "restrict_to_plates", "surrogate_loss"]


@dataclass(eq=False)
class Cost:
    """One cost term: ``value`` (scaled, masked), its ``site`` and graph ``node``."""

    value: torch.Tensor
    site: Message
    node: str


def site_costs(model_trace: Trace, guide_trace: Trace) -> list[Cost]:
    """The cost terms of one particle: ``+log p`` per model site, ``-log q`` per guide site.

    Guide ``deterministic`` sites have no density; guide factors add their log
    factor to the guide's log density.
    """
    costs = [
        Cost(s.log_prob, s, f"model/{n}")
        for n, s in model_trace.nodes.items()
        if s.type == "sample" and not s.infer.get("_deterministic")
    ]
    costs += [
        Cost(-s.log_prob, s, f"guide/{n}")
        for n, s in guide_trace.nodes.items()
        if s.type == "sample" and not s.infer.get("_deterministic")
    ]
    return costs


def _vectorized_dims(site: Message) -> dict[str, int]:
    return {f.name: f.dim for f in site.cond_indep_stack if f.dim is not None}


def restrict_to_plates(
    cost: Any, cost_site: Message, target_site: Message, target_shape: Sequence[int]
) -> Any:
    """Sums ``cost`` over every dim that is not a vectorized plate shared with the target.

    The result broadcasts against ``target_shape`` (the target site's
    log-prob shape): element ``i`` of a shared plate meets only element ``i``
    of the target, which is the Rao-Blackwellization plates allow.

    Example:
        >>> import torch, ppl
        >>> from ppl.handlers import trace
        >>> from distributions import Normal
        >>> def model():
        ...     with ppl.plate("p", 3):
        ...         ppl.sample("a", Normal(0.0, 1.0))
        ...     ppl.sample("b", Normal(0.0, 1.0))
        >>> tr = trace(model).get_trace()
        >>> restrict_to_plates(torch.ones(3), tr.nodes["a"], tr.nodes["b"], ()).item()
        3.0
    """
    return _restrict(cost, cost_site, target_site, target_shape)[0]


def _restrict(
    cost: Any, cost_site: Message, target_site: Message, target_shape: Sequence[int]
) -> tuple[Any, bool]:
    # restrict_to_plates, and whether it returned ``cost`` itself (nothing to
    # sum or squeeze), read from shapes and plates rather than tensor identity.
    if not isinstance(cost, torch.Tensor) or cost.dim() == 0:
        return cost, True
    cost_dims = _vectorized_dims(cost_site)
    shared = cost_dims.keys() & _vectorized_dims(target_site).keys()
    keep = {cost_dims[name] for name in shared}
    n = len(target_shape)
    reduce_dims = [d for d in range(-cost.dim(), 0) if d not in keep or -d > n]
    unchanged = not reduce_dims and cost.dim() <= n
    if reduce_dims:
        cost = cost.sum(dim=reduce_dims, keepdim=True)
    # Drop leading singleton dims the target does not have.
    while cost.dim() > n:
        cost = cost.squeeze(0)
    return cost, unchanged


def _detach(x: Any) -> Any:
    return x.detach() if isinstance(x, torch.Tensor) else x


def _score_log_q(site: Message) -> torch.Tensor:
    # The draw's own log-density: unscaled and unmasked (see the module docstring),
    # so `.mask()` layers of the distribution are looked through as well.
    if not _has_mask(site.fn):
        return site.unscaled_log_prob
    log_q = _unmasked_log_prob(site.fn, site.value)
    return log_q.expand(site.unscaled_log_prob.shape)


def _has_mask(fn: Any) -> bool:
    while isinstance(fn, (Independent, ExpandedDistribution, MaskedDistribution)):
        if isinstance(fn, MaskedDistribution):
            return True
        fn = fn.base_dist
    return False


def _unmasked_log_prob(fn: Any, value: torch.Tensor) -> torch.Tensor:
    if isinstance(fn, MaskedDistribution | ExpandedDistribution):
        return _unmasked_log_prob(fn.base_dist, value)
    if isinstance(fn, Independent):
        log_q = _unmasked_log_prob(fn.base_dist, value)
        n = fn.reinterpreted_batch_ndims
        return log_q.sum(list(range(-n, 0))) if n else log_q
    return fn.log_prob(value)


def surrogate_loss(
    costs: list[Cost],
    scored: dict[str, Message],
    credit: Callable[[Cost], frozenset[str]],
    baselines: Callable[[str, Message, torch.Tensor], tuple[Any, Any]],
    combine_fn: Callable[..., tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Builds the loss of one particle.

    Args:
        costs: the :class:`Cost` terms (:func:`site_costs`, possibly rewritten).
        scored: ``name -> guide site`` of the score-function sites.
        credit: ``Cost -> frozenset of scored names`` whose draws can change it.
        baselines: a callable ``(name, site, cost) -> (baseline, fit_loss)``.
        combine_fn: the tensor arithmetic of the last step (default :func:`combine`).

    Returns:
        ``(loss, elbo)``: the loss to differentiate and the detached ELBO.
    """
    if not scored:
        # No score-function site: no draw is credited with any cost, so every
        # cost enters as itself (what the general path below gives, built
        # without a credit call and a tau per cost).
        return (combine_fn or combine)([(c.value, None) for c in costs], [], [], [])
    log_q = {name: _score_log_q(site) for name, site in scored.items()}
    credited = [credit(c) for c in costs]
    taus = [_tau(c, names, scored, log_q) for c, names in zip(costs, credited)]
    own = {c.node for c in costs}
    based, fits = _baseline_parts(costs, credited, scored, log_q, baselines)
    # The boxes are built after every tau and baseline, term by term, as
    # combine built them when it took the taus: the shared ones then collect
    # their terms' gradients in the order those reached log q before.
    boxes = _Boxes(log_q)
    terms = [
        (c.value, None if tau is None else boxes[tau] if isinstance(tau, str) else _box(tau))
        for c, tau in zip(costs, taus)
    ]
    cancel = [(boxes[n], s.scale, s.mask) for n, s in scored.items() if f"guide/{n}" in own]
    based_boxes = [(boxes[name], baseline) for name, baseline in based]
    return (combine_fn or combine)(terms, cancel, based_boxes, fits)


class _Boxes(dict[str, torch.Tensor]):
    """``box(log q(w))`` per scored site ``w``, built on first use and then shared.

    Every cost whose ``tau`` is one site's whole ``log q`` (the common case:
    one credited site, plates that need no sum) and that site's cancelling and
    baseline terms multiply the same box, so it is built once per estimate
    rather than once per term. The value is the same (exactly 1), and so are
    the derivatives, bit for bit: the terms' contributions are summed at the
    shared box in the order they were summed at ``log q`` before, and ``box``'s
    own derivative multiplies by its value, exactly 1.
    """

    def __init__(self, log_q: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.log_q = log_q

    def __missing__(self, name: str) -> torch.Tensor:
        box = self[name] = _box(self.log_q[name])
        return box


def _tau(
    cost: Cost,
    names: frozenset[str],
    scored: dict[str, Message],
    log_q: dict[str, torch.Tensor],
) -> torch.Tensor | str | None:
    # The name of the one credited site when tau is its whole log q.
    if len(names) == 1:
        (name,) = names
        tau, whole = _restrict(log_q[name], scored[name], cost.site, cost.value.shape)
        return name if whole else tau
    tau = None
    shape = cost.value.shape
    for name in names:
        part = restrict_to_plates(log_q[name], scored[name], cost.site, shape)
        tau = part if tau is None else tau + part
    return tau


def _baseline_parts(
    costs: list[Cost],
    credited: list[frozenset[str]],
    scored: dict[str, Message],
    log_q: dict[str, torch.Tensor],
    baselines: Callable[[str, Message, torch.Tensor], tuple[Any, Any]],
) -> tuple[list[tuple[str, Any]], list[Any]]:
    based: list[tuple[str, Any]] = []
    fits: list[Any] = []
    for name, site in scored.items():
        if not site.infer.get("baseline"):
            continue
        shape = log_q[name].shape
        cost = sum(
            (
                restrict_to_plates(c.value.detach(), c.site, site, shape)
                for c, names in zip(costs, credited)
                if name in names
            ),
            torch.zeros(()),
        )
        baseline, fit = baselines(name, site, cost)
        based.append((name, _detach(baseline)))
        fits.append(fit)
    return based, fits


_ZERO = KeptNumber(0.0)


def _total(x: torch.Tensor) -> torch.Tensor:
    return x if x.dim() == 0 else x.sum()  # a scalar site's cost needs no reduction


def _box(log_q: torch.Tensor) -> torch.Tensor:
    return torch.exp(log_q - log_q.detach())


def combine(
    terms: list[tuple[torch.Tensor, torch.Tensor | None]],
    cancel: list[tuple[torch.Tensor, object, object]],
    based: list[tuple[torch.Tensor, Any]],
    fits: list[torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    """The loss from its parts (pure tensor arithmetic, so it can be compiled).

    A *box* is ``box(tau) = exp(tau - stop(tau))`` (exactly 1 in value) of a
    sum ``tau`` of log-densities (see the module docstring).

    Args:
        terms: ``(cost, box)`` pairs; ``box`` is ``None`` for a cost no draw changes.
        cancel: ``(box(log_q), scale, mask)`` of each score-function site.
        based: ``(box(log_q), baseline)`` of each site with a baseline.
        fits: the fitting losses of learned baselines.

    Returns:
        ``(loss, elbo)``; ``elbo`` is detached.

    Example:
        >>> log_q = torch.tensor(-0.5, requires_grad=True)
        >>> box = torch.exp(log_q - log_q.detach())
        >>> loss, elbo = combine([(torch.tensor(2.0), box)], [], [], [])
        >>> loss.backward()
        >>> loss.item(), elbo.item(), log_q.grad.item()  # value -ELBO, gradient -cost
        (-2.0, 2.0, -2.0)
    """
    parts = [_total(cost) if box is None else (box * cost).sum() for cost, box in terms]
    parts += [scale_and_mask(box - 1.0, scale, mask).sum() for box, scale, mask in cancel]
    parts += [((1.0 - box) * baseline).sum() for box, baseline in based]
    # One stack and one sum: a single autograd node however many sites there are.
    surrogate = torch.stack(parts).sum() if parts else torch.zeros(())
    # Not -surrogate: an ELBO of exactly 0 gives a loss of 0.0, not -0.0.
    loss = number_minus(_ZERO, surrogate)
    fits = [f.sum() for f in fits if isinstance(f, torch.Tensor)]  # 0.0 for fixed baselines
    if fits:
        fit = torch.stack(fits).sum()
        loss = loss + (fit - fit.detach())
    return loss, surrogate.detach()
