"""The stochastic computation graph of a model/guide pair (Schulman et al. 2015).

Following "Gradient Estimation Using Stochastic Computation Graphs"
(arXiv 1506.05254), nodes are the sample sites of a guide trace and of the
model trace replayed against it; an edge ``a -> b`` means the value of site
``a`` may have been used to compute the distribution, observed value, mask or
scale of site ``b``. A non-reparameterized guide site is credited only with
the costs among its descendants.

The graph must over-approximate the true dependencies, never miss one. Edges
come from the data flow that :mod:`inference.provenance` records on every
estimate, and where that analysis lost sight of a value (it left torch: a
``.item()``, an ``if``, a list index) the source is connected to every later
site of both programs: the classic program-order rule, which is always sound.
The graph is a derived view (``networkx.DiGraph``, node attributes only, no
tensors), rebuilt whenever the recorded data flow or the structure differs
from the last estimate's; equal records give equal graphs, so reuse is exact.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import networkx as nx

from inference.traces import trace_pair
from ppl.runtime import Message
from ppl.trace_struct import Trace

__all__ = [
    "ConservativeGraphWarning",
    "GraphCache",
    "build_scg",
    "influencers",
    "is_score_site",
    "scg",
    "structure_key",
]


class ConservativeGraphWarning(UserWarning):
    """A latent's value left torch; its site is credited with every later cost."""


def is_score_site(site: Message) -> bool:
    """Whether a guide site needs a score-function term (a draw without ``rsample``).

    Guide factors count when built with ``has_rsample=False``: their log factor
    is the log-density of a draw the program made by other means.
    """
    if site.infer.get("_deterministic"):
        return False
    if site.is_observed:
        return site.infer.get("is_auxiliary", False) and not site.fn.has_rsample
    return not getattr(site.fn, "has_rsample", False)


def _plates(site: Message) -> tuple[tuple[Any, ...], ...]:
    return tuple((f.name, f.dim, f.subsample_size, f.counter) for f in site.cond_indep_stack)


def structure_key(model_trace: Trace, guide_trace: Trace) -> tuple[Any, ...]:
    """A hashable summary of site names, types, plates and shapes of both traces."""

    def key(tr: Trace) -> tuple[Any, ...]:
        rows = []
        for name, site in tr.nodes.items():
            if site.type in ("sample", "param"):
                shape = tuple(getattr(site.value, "shape", ()))
                rsample = getattr(site.fn, "has_rsample", None) if site.type == "sample" else None
                flags = (site.is_observed, rsample, bool(site.infer.get("is_auxiliary")))
                rows.append((name, site.type, flags, _plates(site), shape))
        return tuple(rows)

    return key(model_trace), key(guide_trace)


def _kind(site: Message, in_guide: bool) -> str:
    if in_guide and site.is_observed and site.infer.get("is_auxiliary"):
        return "reparam" if site.fn.has_rsample else "nonreparam"
    if site.is_observed:
        return "observed"
    if in_guide:
        return "reparam" if getattr(site.fn, "has_rsample", False) else "nonreparam"
    return "latent"


def _add_nodes(g: nx.DiGraph, role: str, tr: Trace) -> None:
    for name, site in tr.nodes.items():
        if site.type == "param":
            g.add_node(f"param/{name}", site=name, role="param", kind="param", plates=())
        if site.type != "sample":
            continue
        g.add_node(
            f"{role}/{name}",
            site=name,
            role=role,
            kind=_kind(site, role == "guide"),
            plates=tuple((f.name, f.dim, f.size) for f in site.cond_indep_stack),
            baseline=dict(site.infer.get("baseline", {})) if role == "guide" else {},
        )


def _later_sites(prov: Any, program: str, position: int) -> list[str]:
    """Nodes of ``program``'s sites from ``position`` on, and the model sites they reach."""
    guide_order, model_order = prov.order["guide"], prov.order["model"]
    model_pos = {name: i for i, name in enumerate(model_order)}
    if program == "guide":
        later = guide_order[position:]
        first = min((model_pos[n] for n in later if n in model_pos), default=len(model_order))
        nodes = [f"guide/{n}" for n in later]
    else:
        first, nodes = position, []
    return nodes + [f"model/{n}" for n in model_order[first:]]


def build_scg(model_trace: Trace, guide_trace: Trace, prov: Any) -> tuple[nx.DiGraph, set[str]]:
    """Builds the graph from both traces and their :class:`~inference.traces.Provenance`.

    Nodes are ``"guide/<name>"`` for guide sample sites (stochastic nodes),
    ``"model/<name>"`` for model sample sites (cost nodes: each carries the
    log-density term of its site), and ``"param/<name>"``.

    Returns:
        ``(graph, leaked)``: a ``networkx.DiGraph`` with node attributes ``site``,
        ``role``, ``kind``, ``plates``, ``baseline``, and the set of guide site
        names whose values left torch (connected conservatively).
    """
    g = nx.DiGraph()
    _add_nodes(g, "guide", guide_trace)
    _add_nodes(g, "model", model_trace)
    for role in ("guide", "model"):
        for name, parents in prov.parents[role].items():
            for parent in parents:
                if f"guide/{parent}" in g:
                    g.add_edge(f"guide/{parent}", f"{role}/{name}")
            # A model site's value is the guide's draw: the cost depends on it.
            if role == "model" and f"guide/{name}" in g and not model_trace.nodes[name].is_observed:
                g.add_edge(f"guide/{name}", f"model/{name}")
    leaked = set()
    for program in ("guide", "model"):
        for sources, position in prov.leaks[program]:
            later = _later_sites(prov, program, position)
            for source in sources:
                if f"guide/{source}" not in g:
                    continue
                leaked.add(source)
                g.add_edges_from((f"guide/{source}", n) for n in later if n in g)
    return g, leaked


def influencers(graph: nx.DiGraph, guide_trace: Trace) -> dict[str, frozenset[str]]:
    """For each cost node, the score-function guide sites whose draws can change it.

    Returns:
        ``node -> frozenset of guide site names``, for every ``model/...`` and
        ``guide/...`` node. A guide factor without ``rsample`` influences every
        cost (nothing records which draws it scores).
    """
    scored = {
        n: data["site"]
        for n, data in graph.nodes(data=True)
        if data["role"] == "guide" and is_score_site(guide_trace.nodes[data["site"]])
    }
    factors = frozenset(name for name in scored.values() if guide_trace.nodes[name].is_observed)
    table: dict[str, frozenset[str]] = {}
    for node, data in graph.nodes(data=True):
        if data["role"] == "param":
            continue
        upstream = nx.ancestors(graph, node) | {node}
        table[node] = frozenset(scored[n] for n in upstream if n in scored) | factors
    return table


class GraphCache:
    """The graph of the latest estimate, rebuilt when structure or data flow changed.

    Attributes:
        graph: the last ``networkx.DiGraph``.
        table: its :func:`influencers` table.
    """

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.graph: nx.DiGraph | None = None
        self.table: dict[str, frozenset[str]] = {}
        self._key: tuple[Any, ...] | None = None
        self._warned: set[str] = set()

    def get(self, model_trace: Trace, guide_trace: Trace, prov: Any) -> dict[str, frozenset[str]]:
        """The influencer table for these traces (see :func:`influencers`)."""
        key = (structure_key(model_trace, guide_trace), prov.signature())
        if key != self._key:
            self.graph, leaked = build_scg(model_trace, guide_trace, prov)
            self.table = influencers(self.graph, guide_trace)
            self._key = key
            self._warn(leaked)
        return self.table

    def _warn(self, leaked: set[str]) -> None:
        for name in sorted(leaked - self._warned):
            self._warned.add(name)
            warnings.warn(
                f"{self.owner}: the value of site '{name}' left torch (.item(), if, int(), "
                ".tolist(), numpy, indexing a Python list, formatting ...), so its data flow "
                "cannot be followed; it is credited with every cost after that point "
                "(unbiased, higher variance). To keep the fine graph, compute with torch "
                "operations on the tensor (torch.where(z > 0, a, b) instead of "
                "`a if z else b`, index tensors with tensors).",
                ConservativeGraphWarning,
                stacklevel=5,
            )


def scg(
    model: Callable[..., Any], guide: Callable[..., Any], *args: Any, **kwargs: Any
) -> nx.DiGraph:
    """The stochastic computation graph of ``model`` and ``guide`` on these arguments.

    Example:
        >>> import torch, ppl
        >>> from distributions import Normal
        >>> def model():
        ...     z = ppl.sample("z", Normal(0.0, 1.0))
        ...     ppl.sample("x", Normal(z, 1.0), obs=torch.tensor(0.5))
        >>> def guide():
        ...     ppl.sample("z", Normal(0.0, 1.0))
        >>> sorted(scg(model, guide).edges())
        [('guide/z', 'model/x'), ('guide/z', 'model/z')]
    """
    model_trace, guide_trace, prov = trace_pair(model, guide, args, kwargs, provenance=True)
    return build_scg(model_trace, guide_trace, prov)[0]
