"""Log-space tensor contraction by variable elimination, with a greedy ordering.

A :class:`Factor` is a tensor of log-values whose dims carry labels: the names
of enumerated variables and of plates. Multiplying factors is adding their
log-values after aligning the labels; summing a variable out is a
``logsumexp`` (or a ``max`` for MAP inference) over its dim. Plate labels are
never summed here: they are batch dims (see :mod:`inference.enum.plated`).

:func:`eliminate` sums a set of variables out of a list of factors one
variable at a time (Zhang and Poole 1994, "A simple approach to Bayesian
network computations"), choosing next the variable whose elimination builds
the smallest tensor, the greedy "min-size" heuristic (Kjaerulff 1990). On a
chain this is the forward algorithm and costs linear time in its length.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["Factor", "eliminate", "multiply", "sum_out"]


@dataclass(frozen=True)
class Factor:
    """A tensor of log-values whose dims are labelled.

    Attributes:
        tensor: the log-values, one dim per label.
        dims: the labels (variable or plate names), one per tensor dim.

    Example:
        >>> import torch
        >>> f = Factor(torch.zeros(2, 3), ("z", "data"))
        >>> f.sizes
        {'z': 2, 'data': 3}
    """

    tensor: torch.Tensor
    dims: tuple

    def __post_init__(self) -> None:
        if self.tensor.dim() != len(self.dims) or len(set(self.dims)) != len(self.dims):
            raise ValueError(
                f"Factor: {len(self.dims)} distinct labels needed for a tensor of shape "
                f"{tuple(self.tensor.shape)}, got {self.dims}"
            )

    @property
    def sizes(self) -> dict[str, int]:
        """``label -> size``."""
        return dict(zip(self.dims, self.tensor.shape))

    def aligned(self, order: Sequence[str]) -> torch.Tensor:
        """The tensor permuted to ``order`` (a superset of the labels), size 1 where absent."""
        present = [d for d in order if d in self.dims]
        tensor = self.tensor.permute([self.dims.index(d) for d in present])
        shape = [self.tensor.shape[self.dims.index(d)] if d in self.dims else 1 for d in order]
        return tensor.reshape(shape)


def multiply(factors: Sequence[Factor]) -> Factor:
    """The product of factors (the sum of their log-values), over the union of labels.

    Example:
        >>> import torch
        >>> f = multiply([Factor(torch.zeros(2), ("a",)), Factor(torch.ones(3), ("b",))])
        >>> f.dims, tuple(f.tensor.shape)
        (('a', 'b'), (2, 3))
    """
    order = tuple(dict.fromkeys(d for f in factors for d in f.dims))
    total = factors[0].aligned(order)
    for f in factors[1:]:
        total = total + f.aligned(order)
    sizes = {}
    for f in factors:
        sizes.update(f.sizes)
    return Factor(total.expand([sizes[d] for d in order]), order)


def sum_out(factor: Factor, labels: Iterable[str], op: str = "logsumexp") -> Factor:
    """Sums (``"logsumexp"``) or maximizes (``"max"``) the labels out of a factor.

    Example:
        >>> import torch
        >>> f = sum_out(Factor(torch.zeros(2, 3), ("z", "data")), ["z"])
        >>> f.dims, round(float(f.tensor[0]), 4)
        (('data',), 0.6931)
    """
    positions = [factor.dims.index(d) for d in labels]
    if not positions:
        return factor
    rest = tuple(d for d in factor.dims if d not in labels)
    if op == "logsumexp":
        tensor = torch.logsumexp(factor.tensor, dim=positions)
    elif op == "max":
        tensor = factor.tensor.amax(dim=positions)
    else:
        raise ValueError(f"sum_out: op must be 'logsumexp' or 'max', got {op!r}")
    return Factor(tensor, rest)


def _cost(var: str, holders: Mapping[str, set[int]], factors: Mapping[int, Factor]) -> int:
    labels: set[str] = set()
    sizes: dict[str, int] = {}
    for i in holders[var]:
        labels.update(factors[i].dims)
        sizes.update(factors[i].sizes)
    return math.prod(sizes[d] for d in labels)


def eliminate(
    factors: Iterable[Factor],
    variables: Iterable[str],
    op: str = "logsumexp",
    record: list[Any] | None = None,
) -> list[Factor]:
    """Sums the ``variables`` out of the product of ``factors``, greedily ordered.

    Args:
        factors: a list of :class:`Factor`.
        variables: labels to sum out; other labels (plates, variables kept)
            stay in the result.
        op: ``"logsumexp"`` (marginalize) or ``"max"`` (maximize, for MAP).
        record: optional list; each elimination appends ``(variable, joint)``
            where ``joint`` is the product of the factors that held the
            variable, before it was summed out (for backward sampling).

    Returns:
        The list of factors left, those that held no eliminated variable and
        one message per connected group of eliminated variables.

    Example:
        >>> import torch
        >>> a = Factor(torch.tensor([0.1, 0.9]).log(), ("a",))
        >>> ab = Factor(torch.tensor([[0.5, 0.5], [0.2, 0.8]]).log(), ("a", "b"))
        >>> [f.dims for f in eliminate([a, ab], ["a"])]
        [('b',)]
    """
    factors = dict(enumerate(factors))
    holders = {v: set() for v in variables}
    for i, f in factors.items():
        for d in f.dims:
            if d in holders:
                holders[d].add(i)
    holders = {v: ids for v, ids in holders.items() if ids}
    tie = itertools.count()
    heap = [(_cost(v, holders, factors), next(tie), v) for v in holders]
    heapq.heapify(heap)
    new_id = len(factors)
    while heap:
        cost, _, var = heapq.heappop(heap)
        if var not in holders:
            continue
        current = _cost(var, holders, factors)
        if current != cost:
            heapq.heappush(heap, (current, next(tie), var))
            continue
        joint = multiply([factors.pop(i) for i in sorted(holders[var])])
        if record is not None:
            record.append((var, joint))
        message = sum_out(joint, [var], op)
        touched = [d for d in joint.dims if d in holders and d != var]
        for d in touched:
            holders[d] -= holders[var]
            holders[d].add(new_id)
        del holders[var]
        factors[new_id] = message
        new_id += 1
        for d in touched:
            heapq.heappush(heap, (_cost(d, holders, factors), next(tie), d))
    return list(factors.values())
