"""Variable elimination in plated factor graphs: sum enumerated variables out across plates.

Each factor lives at an *ordinal*, the set of plates enclosing its site, and
carries one label per plate of its ordinal. A variable's ordinal is that of
its site: inside a plate there is one variable per plate element. The
contraction follows Obermeyer et al. 2019, "Tensor Variable Elimination for
Plated Factor Graphs" (ICML, arXiv 1902.03210): visit ordinals deepest first;
at each, sum out the variables local to it (:func:`~inference.enum.contract.eliminate`),
then multiply out the plates no remaining variable needs (a sum of logs over
the plate's dim, times the plate's subsampling scale), which moves the result
to a shallower ordinal. The result is exact; it fails, with an error naming
the sites, only where exact contraction would cost time exponential in a plate
size (a factor tying variables of two crossing plates, or a variable to be
kept that is more local than one to be summed).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from inference.enum.contract import Factor, eliminate

__all__ = ["PlatedFactor", "contract_plated", "reduce_plates"]


class PlatedFactor:
    """A :class:`~inference.enum.contract.Factor` and the ordinal it lives at.

    Args:
        factor: the labelled log-values.
        ordinal: frozenset of the plate names enclosing it; each must be a label.
    """

    __slots__ = ("factor", "ordinal")

    def __init__(self, factor: Factor, ordinal: Iterable[str]) -> None:
        self.factor = factor
        self.ordinal = frozenset(ordinal)

    def __repr__(self) -> str:
        return f"PlatedFactor(dims={self.factor.dims}, ordinal={sorted(self.ordinal)})"


def reduce_plates(factor: Factor, plates: Iterable[str], scales: Mapping[Any, Any]) -> Factor:
    """Multiplies out plates (sums log-values over their dims, times their scales).

    Args:
        factor: a :class:`~inference.enum.contract.Factor`.
        plates: plate labels to reduce.
        scales: ``plate name -> subsampling scale`` (missing means 1).

    Returns:
        The factor without those labels.

    Example:
        >>> import torch
        >>> f = reduce_plates(Factor(torch.ones(2, 3), ("z", "data")), ["data"], {"data": 2.0})
        >>> f.tensor.tolist()
        [6.0, 6.0]
    """
    positions = [factor.dims.index(p) for p in plates if p in factor.dims]
    if not positions:
        return factor
    tensor = factor.tensor.sum(dim=positions)
    for p in plates:
        scale = scales.get(p, 1.0)
        if scale != 1.0:
            tensor = tensor * scale
    return Factor(tensor, tuple(d for d in factor.dims if d not in plates))


def _components(factors: Sequence[Factor], local: Iterable[str]) -> list[list[Factor]]:
    # Groups factors connected through shared local variables (union-find).
    parent = list(range(len(factors)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, f in enumerate(factors):
        for d in f.dims:
            if d in local:
                if d in first:
                    parent[find(i)] = find(first[d])
                else:
                    first[d] = i
    groups = defaultdict(list)
    for i, f in enumerate(factors):
        groups[find(i)].append(f)
    return list(groups.values())


def _contraction_error(
    ordinal: Iterable[str],
    summed: Iterable[str],
    kept: Iterable[str],
    var_ordinals: Mapping[str, frozenset[str]],
) -> ValueError:
    def describe(names: Iterable[str]) -> str:
        return ", ".join(f"'{v}' (plates {sorted(var_ordinals[v])})" for v in sorted(names))

    message = (
        f"cannot sum out the enumerated site(s) {describe(summed)} exactly: they share a "
        f"factor in plates {sorted(ordinal)}"
    )
    if kept:
        message += (
            f" with guide-enumerated site(s) {describe(kept)}, which are more local; "
            "enumerate those sites in the model instead, or the others in the guide"
        )
    else:
        message += (
            ", and the plates of these sites do not nest, so exact summation would cost time "
            "exponential in a plate size; sample one of them (drop its enumerate hint) or "
            "put the sites under one plate"
        )
    return ValueError(message)


def contract_plated(
    factors: Sequence[PlatedFactor],
    sum_vars: Iterable[str],
    var_ordinals: Mapping[str, frozenset[str]],
    scales: Mapping[Any, Any],
    op: str = "logsumexp",
    record: list[Any] | None = None,
) -> Any:
    """Sums ``sum_vars`` out of a plated factor graph; returns the terms left.

    Args:
        factors: a list of :class:`PlatedFactor`.
        sum_vars: variable labels to sum out; other variable labels are kept
            (guide-enumerated variables in an ELBO).
        var_ordinals: ``variable -> ordinal`` for every variable label.
        scales: ``plate name -> subsampling scale``.
        op: ``"logsumexp"`` or ``"max"``.
        record: optional list receiving ``(variable, joint, ordinal)`` per
            elimination (see :func:`~inference.enum.contract.eliminate`).

    Returns:
        A list of :class:`PlatedFactor` without summed variables. Their
        log-values add up to the log of the sum (or max) over ``sum_vars`` of
        the product of the factors, once each is reduced over its plates.

    Raises:
        ValueError: where exact contraction is not tractable, naming the sites.

    Example:
        >>> import torch
        >>> prior = Factor(torch.tensor([0.5, 0.5]).log(), ("z",))
        >>> lik = Factor(torch.tensor([[0.1, 0.2], [0.3, 0.4]]).log(), ("z", "data"))
        >>> terms = contract_plated(
        ...     [PlatedFactor(prior, ()), PlatedFactor(lik, {"data"})],
        ...     {"z"}, {"z": frozenset()}, {})
        >>> round(float(terms[0].factor.tensor.exp()), 4)  # 0.5 * 0.1 * 0.2 + 0.5 * 0.3 * 0.4
        0.07
    """
    sum_vars = set(sum_vars)
    pool = defaultdict(list)
    for pf in factors:
        pool[pf.ordinal].append(pf.factor)
    done: list[Factor] = []
    while pool:
        ordinal = max(pool, key=len)
        here = pool.pop(ordinal)
        local = {d for f in here for d in f.dims if d in sum_vars and var_ordinals[d] == ordinal}
        for group in _components(here, local):
            steps: list[Any] | None = [] if record is not None else None
            for f in eliminate(group, local, op=op, record=steps):
                _place(f, ordinal, sum_vars, var_ordinals, scales, pool, done)
            if steps:
                record.extend((v, joint, ordinal) for v, joint in steps)
    return done


def _place(
    factor: Factor,
    ordinal: frozenset[str],
    sum_vars: Iterable[str],
    var_ordinals: Mapping[str, frozenset[str]],
    scales: Mapping[Any, Any],
    pool: Any,
    done: Any,
) -> None:
    variables = [d for d in factor.dims if d in var_ordinals]
    summed = [v for v in variables if v in sum_vars]
    if not summed:
        done.append(PlatedFactor(factor, ordinal))
        return
    target = frozenset().union(*(var_ordinals[v] for v in variables))
    if target == ordinal:
        kept = [v for v in variables if v not in sum_vars]
        raise _contraction_error(ordinal, summed, kept, var_ordinals)
    pool[target].append(reduce_plates(factor, sorted(ordinal - target), scales))
