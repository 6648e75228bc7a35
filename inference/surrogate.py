"""The one surrogate-loss construction behind every ELBO.

For a particle's model and guide traces, the ELBO is
``sum_model log p - sum_guide log q``. Its gradient estimator (Schulman et
al. 2015, arXiv 1506.05254) is the gradient of a surrogate:

* pathwise terms: the log-densities themselves, differentiable through
  ``rsample`` for reparameterized guide sites;
* for each non-reparameterized guide site ``z``: ``log q(z) * stop_grad(cost(z) - b)``,
  where ``cost(z)`` sums the scaled log-density terms that ``z`` can influence
  (chosen by the estimator) and ``b`` is a baseline (see :mod:`inference.baselines`).
  The term ``-log q(z)`` of such a site enters the value only: its direct
  gradient has expectation zero and is dropped.

The loss returned is ``-(elbo + surrogate - stop_grad(surrogate))``: its value
is exactly ``-ELBO`` and its gradient the estimator's.
"""

import torch

__all__ = ["SiteCosts", "combine", "restrict_to_plates", "surrogate_loss"]


class SiteCosts:
    """The scaled log-density terms of one particle, by role and site name."""

    def __init__(self, model_trace, guide_trace):
        self.model = {n: s.log_prob for n, s in model_trace.nodes.items() if s.type == "sample"}
        self.guide = {
            n: s.log_prob
            for n, s in guide_trace.nodes.items()
            if s.type == "sample" and not s.is_observed
        }
        self.model_sites = {n: s for n, s in model_trace.nodes.items() if s.type == "sample"}
        self.guide_sites = {
            n: s for n, s in guide_trace.nodes.items() if s.type == "sample" and not s.is_observed
        }


def _vectorized_dims(site):
    return {f.name: f.dim for f in site.cond_indep_stack if f.dim is not None}


def restrict_to_plates(cost, cost_site, target_site, target_shape):
    """Sums ``cost`` over every dim that is not a vectorized plate shared with the target.

    The result broadcasts against ``target_shape`` (the target site's
    log-prob shape): element ``i`` of a shared plate credits only element
    ``i`` of the target, which is the Rao-Blackwellization plates allow.
    """
    if not isinstance(cost, torch.Tensor) or cost.dim() == 0:
        return cost
    shared = _vectorized_dims(cost_site).keys() & _vectorized_dims(target_site).keys()
    keep = {_vectorized_dims(cost_site)[name] for name in shared}
    n = len(target_shape)
    reduce_dims = [d for d in range(-cost.dim(), 0) if d not in keep or -d > n]
    if reduce_dims:
        cost = cost.sum(dim=reduce_dims, keepdim=True)
    # Drop leading singleton dims the target does not have.
    while cost.dim() > n:
        cost = cost.squeeze(0)
    return cost


def surrogate_loss(costs, downstream, baselines, combine=None):
    """Builds ``-(elbo + surrogate - stop_grad(surrogate))`` for one particle.

    Args:
        costs: a :class:`SiteCosts`.
        downstream: ``name -> (model site names, guide site names)`` whose
            costs a non-reparameterized guide site ``name`` may influence.
        baselines: a callable ``(name, site, cost) -> (baseline, extra_loss)``.
        combine: the tensor arithmetic of the last step (:func:`combine`, or a
            compiled version of it).

    Returns:
        ``(loss, elbo)``: the loss to differentiate and the detached ELBO.
    """
    model_terms = list(costs.model.values())
    reparam, other, scores = [], [], []
    for name, site in costs.guide_sites.items():
        if getattr(site.fn, "has_rsample", False):
            reparam.append(costs.guide[name])
        else:
            other.append(costs.guide[name])
            scores.append(_score_term(name, site, costs, downstream, baselines))
    return (combine or globals()["combine"])(model_terms, reparam, other, scores)


def combine(model_terms, reparam_terms, other_terms, score_terms):
    """The loss from its parts: log p terms, reparameterized and other log q terms, scores.

    Returns:
        ``(loss, elbo)`` where ``loss = -(elbo + surrogate - stop_grad(surrogate))``.
    """
    model_sum = sum((t.sum() for t in model_terms), torch.zeros(()))
    reparam_sum = sum((t.sum() for t in reparam_terms), torch.zeros(()))
    other_sum = sum((t.sum() for t in other_terms), torch.zeros(()))
    surrogate = model_sum - reparam_sum + sum(score_terms, torch.zeros(()))
    elbo = model_sum - reparam_sum - other_sum
    loss = -(elbo.detach() + surrogate - surrogate.detach())
    return loss, elbo.detach()


def _detach(x):
    return x.detach() if isinstance(x, torch.Tensor) else x


def _score_term(name, site, costs, downstream, baselines):
    log_q = site.unscaled_log_prob
    if site.mask is not None:
        log_q = torch.where(torch.as_tensor(site.mask), log_q, log_q.new_zeros(()))
    model_names, guide_names = downstream(name)
    shape = log_q.shape
    cost = 0.0
    for m in model_names:
        if m in costs.model:
            cost = cost + restrict_to_plates(costs.model[m], costs.model_sites[m], site, shape)
    for g in guide_names:
        if g in costs.guide:
            cost = cost - restrict_to_plates(costs.guide[g], costs.guide_sites[g], site, shape)
    cost = _detach(cost)
    baseline, extra = baselines(name, site, cost)
    term = (log_q * (cost - _detach(baseline))).sum()
    return term + extra
