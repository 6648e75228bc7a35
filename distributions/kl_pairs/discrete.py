"""Closed-form KL divergences between discrete families."""

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
    if not bool((p.total_count == q.total_count).all()):
        raise NotImplementedError(
            "kl_divergence(Binomial, Binomial) needs equal total_count (otherwise one "
            "support is not inside the other)"
        )
    return p.total_count * _kl_bernoulli_bernoulli(p, q)


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
