"""Closed-form KL divergences between discrete families."""

import math

import torch

from distributions.bernoulli import Bernoulli
from distributions.binomial import Binomial
from distributions.categorical import Categorical
from distributions.geometric import Geometric
from distributions.kl import register_kl
from distributions.kl_pairs.continuous import infinite_kl
from distributions.one_hot_categorical import OneHotCategorical
from distributions.poisson import Poisson

__all__: list = []


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    # xlogy keeps 0 * log 0 = 0 at the edges, and gives +inf where q rules out p's mass.
    p1, q1 = p.probs, q.probs
    return (
        torch.xlogy(p1, p1)
        - torch.xlogy(p1, q1)
        + torch.xlogy(1 - p1, 1 - p1)
        - torch.xlogy(1 - p1, 1 - q1)
    )


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    terms = torch.xlogy(p.probs, p.probs) - torch.xlogy(p.probs, q.probs)
    return terms.sum(-1)


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p, q):
    """Equal counts: ``n KL(Bernoulli)``; ``p``'s count above ``q``'s: ``+inf`` (mass at
    ``k > n_q``); below: ``E_p[log p(k) - log q(k)]`` summed over ``p``'s mass."""
    n_p, n_q = torch.broadcast_tensors(p.total_count, q.total_count)
    same = _kl_bernoulli_bernoulli(p, q)
    same = n_p * same if same.shape == n_p.shape else (n_p * same).expand(n_p.shape)
    kl = torch.where(n_p > n_q, torch.full_like(same, math.inf), same)
    smaller = n_p < n_q
    if bool(smaller.any()):
        kl = torch.where(smaller, _kl_binomial_smaller_count(p, q, n_p), kl)
    return kl


# A window of mean +- this many sd (plus a margin) holds all but ~1e-300 of the mass.
_WINDOW_SD = 40
_WINDOW_MAX = 2**17


def _kl_binomial_smaller_count(p, q, n_p):
    """``sum_k p(k) (log p(k) - log q(k))`` over ``k`` in ``p``'s window of mass.

    The window ``mean +- 40 sd`` (clipped to ``0..n_p``) keeps the sum short;
    past 2^17 terms it raises rather than run a sum that grows with the count.
    """
    n = n_p.double()
    probs = p.probs.double().expand(n.shape)
    sd = (n * probs * (1 - probs)).sqrt()
    lo = (n * probs - _WINDOW_SD * sd - 10).floor().clamp(min=0)
    hi = torch.minimum((n * probs + _WINDOW_SD * sd + 10).ceil(), n)
    width = int((hi - lo).max().item()) + 1 if n.numel() else 1
    if width > _WINDOW_MAX:
        raise NotImplementedError(
            f"kl_divergence(Binomial, Binomial): with total_count {n.max().item():.6g} < "
            f"q's the divergence needs a sum of {width} terms; it is summed up to {_WINDOW_MAX}"
        )
    k = lo + torch.arange(width, dtype=torch.float64).view((-1,) + (1,) * n.dim())
    inside = k <= hi
    k = torch.minimum(k, hi)
    lp = p._log_prob_unchecked(k.to(p._param.dtype)).double()
    lq = q._log_prob_unchecked(k.to(q._param.dtype)).double()
    weight = lp.exp().masked_fill(~inside, 0.0)
    terms = torch.where(weight > 0, weight * (lp - lq), torch.zeros_like(weight))
    return terms.sum(0).to(p._param.dtype)


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p, q):
    return torch.xlogy(p.rate, p.rate) - torch.xlogy(p.rate, q.rate) - p.rate + q.rate


@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p, q):
    entropy = -(torch.xlogy(p.probs, p.probs) + torch.xlogy(1 - p.probs, 1 - p.probs))
    return -entropy - torch.xlogy(p.probs, q.rate) + q.rate


register_kl(Poisson, Bernoulli)(infinite_kl)
register_kl(Poisson, Binomial)(infinite_kl)


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p, q):
    # log(p / q) + E[k] log((1 - p) / (1 - q)) with E[k] = (1 - p) / p; xlogy makes
    # the point mass at 0 (probs = 1) exact, so KL(Geometric(1) || Geometric(1)) is 0.
    p1, q1 = p.probs, q.probs
    tail = torch.xlogy(1 - p1, 1 - p1) - torch.xlogy(1 - p1, 1 - q1)
    return p1.log() - q1.log() + tail / p1


# The one-hot encoding changes the sample space's labels, not the probabilities.
register_kl(OneHotCategorical, OneHotCategorical)(_kl_categorical_categorical)
