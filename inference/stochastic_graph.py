"""The stochastic computation graph of a model/guide pair (Schulman et al. 2015).

Following "Gradient Estimation Using Stochastic Computation Graphs"
(arXiv 1506.05254), nodes are the sites of a guide trace and of the model
trace replayed against it; edges are actual data flow: ``a -> b`` when the
value of sample site ``a`` was used to compute the distribution (or observed
value) of site ``b``. A non-reparameterized site is credited only with the
costs among its descendants. The graph is a derived view of the traces
(``networkx.DiGraph``, light node attributes, no tensors), cached by the
traces' structure so provenance is recomputed only when the structure changes.
"""

import networkx as nx

from inference.provenance import ProvenanceMessenger
from ppl.handlers import replay, trace

__all__ = ["structure_key", "build_scg", "provenance_parents", "scg", "ScgCache"]


def _plates(site):
    return tuple((f.name, f.dim, f.subsample_size, f.counter) for f in site.cond_indep_stack)


def structure_key(model_trace, guide_trace):
    """A hashable summary of site names, types, plates and shapes of both traces."""

    def key(tr):
        rows = []
        for name, site in tr.nodes.items():
            if site.type in ("sample", "param"):
                shape = tuple(getattr(site.value, "shape", ()))
                rows.append((name, site.type, site.is_observed, _plates(site), shape))
        return tuple(rows)

    return key(model_trace), key(guide_trace)


def provenance_parents(model, guide, args, kwargs):
    """Runs guide then replayed model with tracked values; returns (model, guide) parents."""
    with trace() as guide_tr, ProvenanceMessenger() as guide_prov:
        guide(*args, **kwargs)
    with ProvenanceMessenger() as model_prov:
        replay(model, trace=guide_tr.trace)(*args, **kwargs)
    return model_prov.parents, guide_prov.parents


def _kind(site, in_guide):
    if site.is_observed:
        return "observed"
    if in_guide:
        return "reparam" if getattr(site.fn, "has_rsample", False) else "nonreparam"
    return "latent"


def build_scg(model_trace, guide_trace, model_parents, guide_parents):
    """Builds the graph from traces and their provenance parents.

    Nodes are ``"guide/<name>"`` for guide sample sites (stochastic nodes) and
    ``"model/<name>"`` for model sample sites (cost nodes: each carries the
    log-density term of its site), plus ``"param/<name>"`` nodes.

    Returns:
        A ``networkx.DiGraph``; node attributes: ``site``, ``role`` (``"guide"``,
        ``"model"`` or ``"param"``), ``kind``, ``plates``, ``baseline``.
    """
    g = nx.DiGraph()
    for role, tr, parents in (
        ("guide", guide_trace, guide_parents),
        ("model", model_trace, model_parents),
    ):
        for name, site in tr.nodes.items():
            if site.type == "param":
                g.add_node(f"param/{name}", site=name, role="param", kind="param", plates=())
            if site.type != "sample":
                continue
            node = f"{role}/{name}"
            g.add_node(
                node,
                site=name,
                role=role,
                kind=_kind(site, role == "guide"),
                plates=tuple((f.name, f.dim, f.size) for f in site.cond_indep_stack),
                baseline=dict(site.infer.get("baseline", {})) if role == "guide" else {},
            )
            for parent in parents.get(name, ()):
                if parent in guide_trace.nodes:
                    g.add_edge(f"guide/{parent}", node)
            # A model site's value is the guide's draw: the cost node depends on it.
            if role == "model" and name in guide_trace.nodes and not site.is_observed:
                g.add_edge(f"guide/{name}", node)
    return g


class ScgCache:
    """Caches the graph and each guide site's downstream cost sites by structure key."""

    def __init__(self):
        self._key = None
        self.graph = None
        self.downstream = {}

    def get(self, model, guide, args, kwargs, model_trace, guide_trace):
        """The graph for these traces, rebuilt only when their structure changed."""
        key = structure_key(model_trace, guide_trace)
        if key != self._key:
            parents = provenance_parents(model, guide, args, kwargs)
            self.graph = build_scg(model_trace, guide_trace, *parents)
            self.downstream = _downstream_sites(self.graph)
            self._key = key
        return self.graph


def _downstream_sites(graph):
    # For each guide site: the model and guide sites whose cost terms it can
    # influence (itself included), as two sets of site names.
    out = {}
    for node, data in graph.nodes(data=True):
        if data["role"] != "guide":
            continue
        reach = nx.descendants(graph, node) | {node, f"model/{data['site']}"}
        model_sites = {
            graph.nodes[n]["site"]
            for n in reach
            if n in graph and graph.nodes[n]["role"] == "model"
        }
        guide_sites = {
            graph.nodes[n]["site"]
            for n in reach
            if n in graph and graph.nodes[n]["role"] == "guide"
        }
        out[data["site"]] = (frozenset(model_sites), frozenset(guide_sites))
    return out


def scg(model, guide, *args, **kwargs):
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
    guide_trace = trace(guide).get_trace(*args, **kwargs)
    model_trace = trace(replay(model, trace=guide_trace)).get_trace(*args, **kwargs)
    parents = provenance_parents(model, guide, args, kwargs)
    return build_scg(model_trace, guide_trace, *parents)
