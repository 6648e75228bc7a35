"""Closed-form KL divergences between continuous families.

Formulas follow from ``KL(p || q) = -H(p) - E_p[log q]`` with the families'
moments; see e.g. Gil, Alajaji & Linder 2013, "Renyi divergence measures for
commonly used univariate continuous distributions" (Information Sciences 249)
for the univariate ones. Pairs whose ``p`` has mass outside ``q``'s support are
registered as ``+inf``.
"""

import math

import torch

from distributions.beta import Beta
from distributions.cauchy import Cauchy
from distributions.dirichlet import Dirichlet
from distributions.exponential import Exponential
from distributions.gamma import Gamma
from distributions.half_normal import HalfNormal
from distributions.inverse_gamma import InverseGamma
from distributions.kl import register_kl
from distributions.laplace import Laplace
from distributions.log_normal import LogNormal
from distributions.lowrank_multivariate_normal import LowRankMultivariateNormal
from distributions.multivariate_normal import MultivariateNormal
from distributions.normal import Normal
from distributions.uniform import Uniform
from distributions.utils import broadcast_shape

__all__ = ["infinite_kl"]

_EULER = 0.57721566490153286060


def infinite_kl(p, q):
    """``+inf`` over the broadcast batch shape: ``p`` puts mass where ``q`` has none."""
    shape = broadcast_shape(p.batch_shape, q.batch_shape)
    dtype = torch.get_default_dtype()
    for d in (p, q):
        for value in vars(d).values():
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                dtype = value.dtype
                break
    return torch.full(shape, math.inf, dtype=dtype)


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    ratio = (p.scale / q.scale).pow(2)
    gap = ((p.loc - q.loc) / q.scale).pow(2)
    return 0.5 * (ratio + gap - 1 - ratio.log())


@register_kl(LogNormal, LogNormal)
def _kl_lognormal_lognormal(p, q):
    return _kl_normal_normal(p, q)


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p, q):
    ratio = (p.scale / q.scale).pow(2)
    return 0.5 * (ratio - 1 - ratio.log())


@register_kl(Normal, Laplace)
def _kl_normal_laplace(p, q):
    # E|X - m| for X ~ N(mu, s): s sqrt(2/pi) exp(-d^2 / 2s^2) + d erf(d / (s sqrt 2)).
    d = p.loc - q.loc
    abs_moment = p.scale * math.sqrt(2 / math.pi) * torch.exp(-0.5 * (d / p.scale).pow(2))
    abs_moment = abs_moment + d * torch.erf(d / (p.scale * math.sqrt(2)))
    neg_entropy = -0.5 * math.log(2 * math.pi * math.e) - p.scale.log()
    return neg_entropy + math.log(2) + q.scale.log() + abs_moment / q.scale


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    gap = (p.loc - q.loc).abs()
    ratio = p.scale / q.scale
    return -ratio.log() + gap / q.scale + ratio * torch.exp(-gap / p.scale) - 1


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    ratio = q.rate / p.rate
    return ratio - 1 - ratio.log()


@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p, q):
    e_log_x = -_EULER - p.rate.log()
    e_log_q = (
        q.concentration * q.rate.log()
        - torch.lgamma(q.concentration)
        + (q.concentration - 1) * e_log_x
        - q.rate / p.rate
    )
    return -(1 - p.rate.log()) - e_log_q


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p, q):
    a_p, b_p, a_q, b_q = p.concentration, p.rate, q.concentration, q.rate
    return (
        (a_p - a_q) * torch.digamma(a_p)
        - torch.lgamma(a_p)
        + torch.lgamma(a_q)
        + a_q * (b_p.log() - b_q.log())
        + a_p * (b_q - b_p) / b_p
    )


@register_kl(InverseGamma, InverseGamma)
def _kl_inverse_gamma_inverse_gamma(p, q):
    # KL is invariant under a bijection applied to both laws, and x -> 1 / x maps
    # InverseGamma(a, b) onto Gamma(a, rate=b).
    return _kl_gamma_gamma(p, q)


def _log_beta(a, b):
    return torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b)


@register_kl(Beta, Beta)
def _kl_beta_beta(p, q):
    a1, b1, a2, b2 = p.concentration1, p.concentration0, q.concentration1, q.concentration0
    return (
        _log_beta(a2, b2)
        - _log_beta(a1, b1)
        + (a1 - a2) * torch.digamma(a1)
        + (b1 - b2) * torch.digamma(b1)
        + (a2 - a1 + b2 - b1) * torch.digamma(a1 + b1)
    )


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p, q):
    a, b = p.concentration, q.concentration
    a0 = a.sum(-1)
    return (
        torch.lgamma(a0)
        - torch.lgamma(a).sum(-1)
        - torch.lgamma(b.sum(-1))
        + torch.lgamma(b).sum(-1)
        + ((a - b) * (torch.digamma(a) - torch.digamma(a0).unsqueeze(-1))).sum(-1)
    )


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    kl = ((q.high - q.low) / (p.high - p.low)).log()
    outside = (q.low > p.low) | (q.high < p.high)
    return kl.masked_fill(outside, math.inf)


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p, q):
    width = p.high - p.low
    # E_p[(x - mu)^2] for x ~ U(low, high).
    second = (p.high.pow(3) - p.low.pow(3)) / (3 * width) - (p.high + p.low) * q.loc + q.loc.pow(2)
    return (
        -width.log() + 0.5 * math.log(2 * math.pi) + q.scale.log() + second / (2 * q.scale.pow(2))
    )


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p, q):
    num = (p.scale + q.scale).pow(2) + (p.loc - q.loc).pow(2)
    return (num / (4 * p.scale * q.scale)).log()


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError(
            f"kl_divergence(MultivariateNormal, MultivariateNormal): event shapes "
            f"{tuple(p.event_shape)} and {tuple(q.event_shape)} differ"
        )
    shape = broadcast_shape(p.batch_shape, q.batch_shape)
    n = p.event_shape[0]
    lp = p.scale_tril.expand(shape + (n, n))
    lq = q.scale_tril.expand(shape + (n, n))
    m = torch.linalg.solve_triangular(lq, lp, upper=False)
    diff = (q.loc - p.loc).expand(shape + (n,)).unsqueeze(-1)
    z = torch.linalg.solve_triangular(lq, diff, upper=False).squeeze(-1)
    log_det = lq.diagonal(dim1=-2, dim2=-1).log().sum(-1) - lp.diagonal(dim1=-2, dim2=-1).log().sum(
        -1
    )
    return 0.5 * (m.pow(2).sum((-2, -1)) + z.pow(2).sum(-1) - n) + log_det


# A low-rank-plus-diagonal Gaussian is a Gaussian: its dense Cholesky factor
# (a lazy property) serves the same formula, at O(n^3) per batch element.
for _p, _q in (
    (LowRankMultivariateNormal, LowRankMultivariateNormal),
    (LowRankMultivariateNormal, MultivariateNormal),
    (MultivariateNormal, LowRankMultivariateNormal),
):
    register_kl(_p, _q)(_kl_mvn_mvn)


def _log_diag_sum(tril):
    return tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)


# p has mass where q has none.
for _p in (Normal, Laplace, Cauchy):
    for _q in (Beta, Exponential, Gamma, Uniform, HalfNormal, LogNormal):
        register_kl(_p, _q)(infinite_kl)
for _p in (Exponential, Gamma, HalfNormal, LogNormal):
    for _q in (Beta, Uniform):
        register_kl(_p, _q)(infinite_kl)
