"""Exact expectations of cost terms under the guide's enumerated variables.

After the model's enumerated variables are summed out, each cost term of an
ELBO is a tensor over some guide-enumerated variables and plates. Its
expectation under the guide is the sum over those variables of the guide's
marginal probability times the cost. The marginal of a set ``S`` of guide
variables needs only the guide factors of ``S`` and of their ancestors (the
enumerated variables their distributions depend on); the others sum to one.
Inside a plate the marginal is per plate element, which is all a cost at that
plate needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from inference.enum.contract import Factor, eliminate, multiply

__all__ = ["GuideMarginals", "expect"]


class GuideMarginals:
    """Marginal log-probabilities of sets of guide-enumerated variables, cached.

    Args:
        log_q: ``variable -> Factor``: each guide-enumerated site's
            log-probability, labelled by itself, its enumerated parents and
            its plates.

    Example:
        >>> import torch
        >>> q = {"a": Factor(torch.tensor([0.25, 0.75]).log(), ("a",)),
        ...      "b": Factor(torch.tensor([[0.5, 0.5], [0.0, 1.0]]).log(), ("a", "b"))}
        >>> marginal = GuideMarginals(q).log_marginal(frozenset({"b"})).tensor.exp()
        >>> [round(p, 6) for p in marginal.tolist()]  # float32 exp/log: exact to an ulp
        [0.125, 0.875]
    """

    def __init__(self, log_q: Mapping[str, Any]) -> None:
        self.log_q = log_q
        self._cache: dict[frozenset[str], Factor] = {}

    def _ancestors(self, names: frozenset[str]) -> set[str]:
        closure, todo = set(), list(names)
        while todo:
            name = todo.pop()
            if name in closure:
                continue
            closure.add(name)
            todo.extend(d for d in self.log_q[name].dims if d in self.log_q)
        return closure

    def log_marginal(self, names: frozenset[str]) -> Factor:
        """The log-marginal of the variables ``names`` (a frozenset), per plate element."""
        if names not in self._cache:
            closure = self._ancestors(names)
            factors = [self.log_q[name] for name in sorted(closure)]
            left = eliminate(factors, closure - names)
            self._cache[names] = multiply(left)
        return self._cache[names]


def expect(cost: Factor, marginals: GuideMarginals) -> Factor:
    """The expectation of a cost :class:`Factor` over its guide-enumerated labels.

    Where the guide gives a value probability zero the cost is not evaluated
    (a model log-density of ``-inf`` there would otherwise give ``0 * -inf``).

    Args:
        cost: a Factor over guide-enumerated variables and plates.
        marginals: a :class:`GuideMarginals`.

    Returns:
        A Factor over the plate labels of ``cost`` only.
    """
    names = frozenset(d for d in cost.dims if d in marginals.log_q)
    if not names:
        return cost
    weight = marginals.log_marginal(names)
    order = tuple(dict.fromkeys(cost.dims + weight.dims))
    w = weight.aligned(order).exp()
    c = cost.aligned(order)
    c = torch.where(w > 0, c, c.new_zeros(()))
    positions = [order.index(d) for d in names]
    rest = tuple(d for d in order if d not in names)
    value = (w * c).sum(dim=positions)
    sizes = {**weight.sizes, **cost.sizes}
    return Factor(value.expand([sizes[d] for d in rest]), rest)
