"""``Trace_ELBO`` and ``TraceGraph_ELBO``: two credit rules.

Both estimate the gradient of the ELBO with pathwise terms for
reparameterized sites and score-function terms for the rest (Ranganath et al.
2014, "Black Box Variational Inference", arXiv 1401.0118; Schulman et al. 2015,
arXiv 1506.05254), through the DiCE surrogate of :mod:`inference.surrogate`.
They differ only in which costs a score-function site ``z`` is credited with,
i.e. in how much they Rao-Blackwellize:

* ``Trace_ELBO``: every cost, restricted to ``z``'s own element of each
  vectorized plate it shares with the cost;
* ``TraceGraph_ELBO``: only costs downstream of ``z`` in the stochastic
  computation graph (data flow, :mod:`inference.stochastic_graph`), with the
  same plate restriction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import networkx as nx

from inference.elbo import ELBO
from inference.stochastic_graph import GraphCache
from inference.surrogate import Cost
from inference.traces import Provenance
from ppl.runtime import Message
from ppl.trace_struct import Trace

__all__ = ["Trace_ELBO", "TraceGraph_ELBO"]


class Trace_ELBO(ELBO):
    """The ELBO with plate-wise Rao-Blackwellized score-function terms.

    Every score-function site is credited with every cost (restricted to the
    vectorized plates they share): no dependency is assumed away but the
    conditional independence that plates declare.

    Example:
        >>> import torch, ppl
        >>> from distributions import Normal
        >>> def model():
        ...     z = ppl.sample("z", Normal(0.0, 1.0))
        ...     ppl.sample("x", Normal(z, 1.0), obs=torch.tensor(0.0))
        >>> def guide():
        ...     ppl.sample("z", Normal(0.0, 1.0))
        >>> isinstance(Trace_ELBO().loss(model, guide), float)
        True
    """

    def _credit(
        self,
        model_trace: Trace,
        guide_trace: Trace,
        prov: Provenance | None,
        scored: dict[str, Message],
    ) -> Callable[[Cost], frozenset[str]]:
        everything = frozenset(scored)
        return lambda cost: everything


class TraceGraph_ELBO(ELBO):
    """The ELBO whose score-function terms see only costs downstream in the graph.

    What it guarantees: the gradient (of every order) is unbiased for every
    program whose plates declare true conditional independence. The graph is
    derived from the data flow of each estimate, so it cannot go stale when
    the data flow changes with the arguments or with the drawn values. Where a
    latent's value leaves torch (``.item()``, ``if z:``, ``int(z)``,
    ``.tolist()``, numpy, list indexing) its site falls back to the classic
    rule -- every later cost of both programs -- with one
    :class:`~inference.stochastic_graph.ConservativeGraphWarning` per site.
    Guide factors without ``rsample`` are credited with every cost.
    Baselines per site come from ``infer={"baseline": {...}}``
    (:mod:`inference.baselines`).

    Example:
        >>> import torch, ppl
        >>> from distributions import Bernoulli
        >>> def model():
        ...     ppl.sample("a", Bernoulli(0.5))
        ...     ppl.sample("x", Bernoulli(0.5), obs=torch.tensor(1.0))
        >>> def guide():
        ...     p = ppl.param("p", torch.tensor(0.3))
        ...     ppl.sample("a", Bernoulli(p))
        >>> elbo = TraceGraph_ELBO()
        >>> loss = elbo.differentiable_loss(model, guide)
        >>> elbo.graph.has_edge("guide/a", "model/a"), elbo.graph.has_edge("guide/a", "model/x")
        (True, False)
    """

    needs_provenance = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cache = GraphCache(type(self).__name__)

    @property
    def graph(self) -> nx.DiGraph | None:
        """The stochastic computation graph of the last estimate."""
        return self._cache.graph

    def _credit(
        self,
        model_trace: Trace,
        guide_trace: Trace,
        prov: Provenance | None,
        scored: dict[str, Message],
    ) -> Callable[[Cost], frozenset[str]]:
        if prov is None:  # no score-function site, so nothing to credit
            return lambda cost: frozenset(scored)
        table = self._cache.get(model_trace, guide_trace, prov)
        return lambda cost: table.get(cost.node, frozenset(scored))
