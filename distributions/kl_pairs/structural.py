"""KL divergences of wrappers and the exponential-family fallback.

For two members of one exponential family with natural parameters ``eta``
and log-normalizer ``A``, ``KL(p || q)`` is the Bregman divergence
``A(eta_q) - A(eta_p) - <eta_q - eta_p, grad A(eta_p)>`` (Nielsen & Garcia 2009,
arXiv 0911.4863), which autograd computes from ``A`` alone.
"""

import torch

from distributions.exp_family import ExponentialFamily
from distributions.independent import Independent
from distributions.kl import kl_divergence, register_kl
from distributions.transformed_distribution import TransformedDistribution
from distributions.utils import sum_rightmost

__all__: list = []


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError(
            "kl_divergence(Independent, Independent) needs the same reinterpreted_batch_ndims, "
            f"got {p.reinterpreted_batch_ndims} and {q.reinterpreted_batch_ndims}"
        )
    return sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p, q):
    if p.transforms != q.transforms or p.event_shape != q.event_shape:
        raise NotImplementedError(
            "kl_divergence(TransformedDistribution, TransformedDistribution) needs equal "
            "transforms and event shapes (KL is invariant only under a shared bijection)"
        )
    return kl_divergence(p.base_dist, q.base_dist)


@register_kl(ExponentialFamily, ExponentialFamily)
def _kl_exponential_family(p, q):
    if type(p) is not type(q):
        raise NotImplementedError(
            f"kl_divergence({type(p).__name__}, {type(q).__name__}): the Bregman fallback "
            "needs two members of the same family; register this pair with register_kl"
        )
    with torch.enable_grad():
        eta_p = [e if e.requires_grad else e.detach().requires_grad_() for e in p._natural_params]
        a_p = p._log_normalizer(*eta_p)
        grads = torch.autograd.grad(a_p.sum(), eta_p, create_graph=True)
    eta_q = q._natural_params
    result = q._log_normalizer(*eta_q) - a_p
    for ep, eq, g in zip(eta_p, eta_q, grads):
        result = result - sum_rightmost((eq - ep) * g, len(q.event_shape))
    return result
