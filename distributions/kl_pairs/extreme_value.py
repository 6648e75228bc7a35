"""KL divergences into and out of the Gumbel and Pareto families.

Every finite pair follows from ``KL(p || q) = -H(p) - E_p[log q]``:

* ``log Gumbel(x; m, s) = -log s - (x - m) / s - exp(-(x - m) / s)``, so
  ``E_p[log q]`` needs ``p``'s mean and its moment-generating function at
  ``-1 / s``. The exponential term is formed in log space,
  ``exp(m / s + log M_p(-1 / s))``, which stays finite where ``exp(m / s)`` and
  ``M_p(-1 / s)`` would overflow and underflow separately.
* ``log Pareto(x; c, a) = log a + a log c - (a + 1) log x`` on ``x >= c``, so
  ``E_p[log q]`` needs ``E_p[log X]``; the divergence is ``+inf`` wherever ``p``
  reaches below ``c``.
* Out of a Pareto, the divergence is ``+inf`` wherever the moment ``q`` needs is
  (``E[X]`` needs ``alpha > 1``, ``E[X^2]`` needs ``alpha > 2``), and always into
  the bounded families.
"""

import math

import torch

from distributions.beta import Beta
from distributions.exponential import Exponential
from distributions.gamma import Gamma
from distributions.gumbel import Gumbel
from distributions.kl import register_kl
from distributions.kl_pairs.continuous import infinite_kl
from distributions.kl_pairs.moments import _kl_to_exponential, _kl_to_normal, expected_log
from distributions.laplace import Laplace
from distributions.normal import Normal
from distributions.pareto import Pareto
from distributions.uniform import Uniform

__all__ = ["log_mgf_at_negative"]


def _uniform_log_mgf(p, u):
    # E[exp(-uX)] = exp(-u low) (1 - exp(-u w)) / (u w), w = high - low; expm1 keeps
    # narrow intervals exact.
    uw = u * (p.high - p.low)
    return -u * p.low + torch.log(-torch.expm1(-uw)) - uw.log()


def log_mgf_at_negative(p, u):
    """``log E_p[exp(-u X)]`` for ``u > 0``, for the families with a Gumbel pair.

    Args:
        p: an Exponential, Gamma, Gumbel, Normal or Uniform.
        u: a positive tensor broadcastable with ``p``'s batch shape.

    Raises:
        TypeError: for any other family.

    Example:
        >>> from distributions import Exponential
        >>> round(log_mgf_at_negative(Exponential(1.0), torch.tensor(1.0)).exp().item(), 3)
        0.5
    """
    if isinstance(p, Exponential):
        return p.rate.log() - (p.rate + u).log()
    if isinstance(p, Gamma):
        return p.concentration * (p.rate.log() - (p.rate + u).log())
    if isinstance(p, Gumbel):
        # The standard Gumbel's MGF is Gamma(1 - t); here t = -u * scale.
        return -u * p.loc + torch.lgamma(1 + u * p.scale)
    if isinstance(p, Normal):
        return -u * p.loc + 0.5 * (u * p.scale).pow(2)
    if isinstance(p, Uniform):
        return _uniform_log_mgf(p, u)
    raise TypeError(f"log_mgf_at_negative: no closed form for {type(p).__name__}")


def _kl_to_gumbel(p, q):
    u = q.scale.reciprocal()
    tail = torch.exp(q.loc * u + log_mgf_at_negative(p, u))
    return -p.entropy() + q.scale.log() + (p.mean - q.loc) * u + tail


def _pareto_expected_log(p):
    return p.scale.log() + p.alpha.reciprocal()


def _kl_to_pareto(p, q, e_log_x, lower):
    e_log_q = q.alpha.log() + q.alpha * q.scale.log() - (q.alpha + 1) * e_log_x
    return (-p.entropy() - e_log_q).masked_fill(lower < q.scale, math.inf)


@register_kl(Pareto, Pareto)
def _kl_pareto_pareto(p, q):
    return _kl_to_pareto(p, q, _pareto_expected_log(p), p.scale)


@register_kl(Uniform, Pareto)
def _kl_uniform_pareto(p, q):
    # Where p reaches below q's scale the result is +inf whatever E[log X] is, and
    # E[log X] of an interval reaching below 0 is NaN, which backward would carry
    # (as 0 * NaN) into q's parameters; an interval above the scale stands in.
    outside = p.low < q.scale
    low = torch.where(outside, q.scale, p.low)
    high = torch.where(outside, q.scale + 1, p.high)
    e_log_x = expected_log(Uniform(low, high, validate_args=False))
    return _kl_to_pareto(p, q, e_log_x, p.low)


@register_kl(Pareto, Gamma)
def _kl_pareto_gamma(p, q):
    # p.mean is +inf for alpha <= 1, which carries through to +inf here.
    a, b = q.concentration, q.rate
    e_log_q = a * b.log() - torch.lgamma(a) + (a - 1) * _pareto_expected_log(p) - b * p.mean
    return -p.entropy() - e_log_q


for _p in (Exponential, Gamma, Gumbel, Normal, Uniform):
    register_kl(_p, Gumbel)(_kl_to_gumbel)
# Gumbel and Pareto have a finite variance (Pareto only for alpha > 2; its
# variance is +inf otherwise, and so is the divergence).
register_kl(Gumbel, Normal)(_kl_to_normal)
register_kl(Pareto, Normal)(_kl_to_normal)
register_kl(Pareto, Exponential)(_kl_to_exponential)

# p has mass where q has none: Pareto's support starts at scale > 0 and is
# unbounded above; Gumbel's is the whole line.
for _p in (Beta, Exponential, Gamma, Gumbel, Laplace, Normal):
    register_kl(_p, Pareto)(infinite_kl)
for _q in (Beta, Exponential, Gamma, Uniform):
    register_kl(Gumbel, _q)(infinite_kl)
for _q in (Beta, Uniform):
    register_kl(Pareto, _q)(infinite_kl)
