"""KL divergences from ``-H(p) - E_p[log q]`` with ``q``'s log-density linear in moments.

When ``log q(x)`` is linear in ``x``, ``x^2``, ``log x`` or ``log(1 - x)``, the
divergence needs only ``p``'s entropy and those expectations, which the
families below have in closed form. A ``p`` whose support leaves ``q``'s
(a Uniform reaching below 0 against an Exponential) gives ``+inf``.
"""

import math

import torch

from distributions.beta import Beta
from distributions.exponential import Exponential
from distributions.gamma import Gamma
from distributions.kl import register_kl
from distributions.laplace import Laplace
from distributions.normal import Normal
from distributions.uniform import Uniform

__all__ = ["expected_log"]


def _uniform_expected_log(p):
    # E[log X] for X ~ U(low, high) with 0 <= low: [x log x - x] / (high - low).
    def antiderivative(x):
        return torch.xlogy(x, x) - x

    return (antiderivative(p.high) - antiderivative(p.low)) / (p.high - p.low)


def expected_log(p):
    """``E_p[log X]`` for the positive families."""
    if isinstance(p, Beta):
        return torch.digamma(p.concentration1) - torch.digamma(p.concentration1 + p.concentration0)
    if isinstance(p, Gamma):
        return torch.digamma(p.concentration) - p.rate.log()
    if isinstance(p, Exponential):
        return -0.57721566490153286060 - p.rate.log()
    return _uniform_expected_log(p)


def _nonnegative(p):
    return p.low >= 0 if isinstance(p, Uniform) else torch.ones((), dtype=torch.bool)


def _kl_to_normal(p, q):
    second = p.variance + (p.mean - q.loc).pow(2)
    e_log_q = -0.5 * math.log(2 * math.pi) - q.scale.log() - second / (2 * q.scale.pow(2))
    return -p.entropy() - e_log_q


def _kl_to_exponential(p, q):
    kl = -p.entropy() - (q.rate.log() - q.rate * p.mean)
    return kl.masked_fill(~_nonnegative(p), math.inf)


def _kl_to_gamma(p, q):
    a, b = q.concentration, q.rate
    e_log_q = a * b.log() - torch.lgamma(a) + (a - 1) * expected_log(p) - b * p.mean
    return (-p.entropy() - e_log_q).masked_fill(~_nonnegative(p), math.inf)


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p, q):
    inside = (p.low >= 0) & (p.high <= 1)
    low, high = p.low.clamp(0, 1), p.high.clamp(0, 1)
    e_log_x = _uniform_expected_log(Uniform(low, high, validate_args=False))
    e_log_1mx = _uniform_expected_log(Uniform(1 - high, 1 - low, validate_args=False))
    a, b = q.concentration1, q.concentration0
    log_beta = torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b)
    e_log_q = (a - 1) * e_log_x + (b - 1) * e_log_1mx - log_beta
    return (-p.entropy() - e_log_q).masked_fill(~inside, math.inf)


@register_kl(Beta, Uniform)
def _kl_beta_uniform(p, q):
    covers = (q.low <= 0) & (q.high >= 1)
    return (-p.entropy() + (q.high - q.low).log()).masked_fill(~covers, math.inf)


for _p in (Beta, Exponential, Gamma, Laplace):
    register_kl(_p, Normal)(_kl_to_normal)
for _p in (Beta, Gamma, Uniform):
    register_kl(_p, Exponential)(_kl_to_exponential)
for _p in (Beta, Uniform):
    register_kl(_p, Gamma)(_kl_to_gamma)
