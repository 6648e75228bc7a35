"""KL divergences into and out of the ContinuousBernoulli family.

All finite pairs follow from ``KL(p || q) = -H(p) - E_p[log q]``:

* Into a ContinuousBernoulli, ``log q(x) = eta x - A(eta)`` on ``[0, 1]``
  (Loaiza-Ganem & Cunningham 2019, arXiv 1907.06845), so ``E_p[log q]`` needs
  only ``p``'s mean. For two ContinuousBernoulli laws this is the Bregman
  divergence ``(eta_p - eta_q) E_p[X] - A(eta_p) + A(eta_q)``.
* Out of one, the Normal and Exponential log-densities are polynomials in ``x``,
  so ``p``'s mean and variance suffice; the Uniform needs ``p``'s entropy only.

Supports decide the rest: a ``p`` with mass outside ``[0, 1]`` (Exponential,
Gamma, Gumbel, Laplace, Normal, Pareto, a Uniform reaching past 0 or 1) gives
``+inf`` into a ContinuousBernoulli, as does a ContinuousBernoulli into a Pareto
(its ``[0, scale)`` is never covered) or into a Uniform not covering ``[0, 1]``.
torch also returns ``+inf`` when a Uniform's bound merely touches 0 or 1
(``Uniform(0, 1)`` either way); the supports still nest there, so we return the
finite value.
"""

import math

from distributions.beta import Beta
from distributions.continuous_bernoulli import ContinuousBernoulli
from distributions.exponential import Exponential
from distributions.gamma import Gamma
from distributions.gumbel import Gumbel
from distributions.kl import register_kl
from distributions.kl_pairs.continuous import infinite_kl
from distributions.kl_pairs.moments import _kl_to_exponential, _kl_to_normal
from distributions.laplace import Laplace
from distributions.normal import Normal
from distributions.pareto import Pareto
from distributions.uniform import Uniform

__all__ = ["expected_log_density"]


def expected_log_density(mean, q):
    """``E_p[log q(X)]`` for a ContinuousBernoulli ``q`` and any ``p`` on ``[0, 1]``.

    Args:
        mean: ``E_p[X]``, broadcastable with ``q``'s batch shape.
        q: a :class:`ContinuousBernoulli`.

    Returns:
        ``eta_q * mean - A(eta_q)``, batched over the broadcast shape.

    Example:
        >>> import torch
        >>> q = ContinuousBernoulli(probs=torch.tensor(0.5))
        >>> expected_log_density(torch.tensor(0.3), q).item()
        0.0
    """
    eta = q._eta
    return eta * mean - q._log_normalizer(eta)


def _kl_to_continuous_bernoulli(p, q):
    return -p.entropy() - expected_log_density(p.mean, q)


@register_kl(Uniform, ContinuousBernoulli)
def _kl_uniform_continuous_bernoulli(p, q):
    outside = (p.low < 0) | (p.high > 1)
    return _kl_to_continuous_bernoulli(p, q).masked_fill(outside, math.inf)


@register_kl(ContinuousBernoulli, Uniform)
def _kl_continuous_bernoulli_uniform(p, q):
    uncovered = (q.low > 0) | (q.high < 1)
    kl = -p.entropy() + (q.high - q.low).log()
    return kl.masked_fill(uncovered, math.inf)


for _p in (ContinuousBernoulli, Beta):
    register_kl(_p, ContinuousBernoulli)(_kl_to_continuous_bernoulli)
register_kl(ContinuousBernoulli, Normal)(_kl_to_normal)
register_kl(ContinuousBernoulli, Exponential)(_kl_to_exponential)

# p has mass where q has none.
register_kl(ContinuousBernoulli, Pareto)(infinite_kl)
for _p in (Exponential, Gamma, Gumbel, Laplace, Normal, Pareto):
    register_kl(_p, ContinuousBernoulli)(infinite_kl)
