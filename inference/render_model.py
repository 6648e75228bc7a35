"""``render_model``: a picture of a model's sites, data flow and plates.

The model runs once under the provenance tracker of :mod:`inference.provenance`
(every sample, deterministic and, optionally, param value is tagged with its
site name), so edges are real data flow, as in the stochastic computation
graph. Drawn with matplotlib, no graphviz binary needed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import networkx as nx

from inference.provenance import ProvenanceMessenger, ProvenanceMode, track
from inference.render import render_scg
from ppl.handlers import trace
from ppl.runtime import Message

__all__ = ["model_graph", "render_model"]


class _RenderProvenance(ProvenanceMessenger):
    # A picture draws data flow through deterministic nodes, so their values
    # are tagged with their own names; params are tagged when asked.
    def __init__(self, mode: ProvenanceMode, render_params: bool) -> None:
        super().__init__(mode)
        self.render_params = render_params

    def _postprocess_sample(self, msg: Message) -> None:
        super()._postprocess_sample(msg)
        if msg.infer.get("_deterministic"):
            track(self.mode, msg.value, msg.name)

    def _postprocess_param(self, msg: Message) -> None:
        if self.render_params:
            self.parents[msg.name] = frozenset()
            track(self.mode, msg.value, msg.name)


def _kind(site: Message) -> str:
    if site.type == "param":
        return "param"
    if site.infer.get("_deterministic"):
        return "deterministic"
    return "observed" if site.is_observed else "latent"


def model_graph(
    model: Callable[..., Any],
    model_args: tuple[Any, ...] = (),
    model_kwargs: dict[str, Any] | None = None,
    render_params: bool = False,
) -> nx.DiGraph:
    """The model's sites as a ``networkx.DiGraph`` with data-flow edges.

    Node attributes: ``kind`` (``"latent"``, ``"observed"``, ``"deterministic"``,
    ``"param"``), ``plates`` (``(name, dim, size)`` tuples), ``dist`` (class name).

    Example:
        >>> import ppl, torch
        >>> from distributions import Normal
        >>> def model():
        ...     mu = ppl.sample("mu", Normal(0.0, 1.0))
        ...     ppl.sample("x", Normal(mu, 1.0), obs=torch.tensor(0.0))
        >>> sorted(model_graph(model).edges())
        [('mu', 'x')]
    """
    mode = ProvenanceMode()
    tracker = _RenderProvenance(mode, render_params)
    with mode, trace() as tr, tracker:
        model(*model_args, **(model_kwargs or {}))
    g = nx.DiGraph()
    for name, site in tr.trace.nodes.items():
        if site.type not in ("sample", "param") or (site.type == "param" and not render_params):
            continue
        g.add_node(
            name,
            kind=_kind(site),
            plates=tuple((f.name, f.dim, f.size) for f in site.cond_indep_stack),
            dist=type(site.fn).__name__ if site.type == "sample" else "param",
            site=name,
        )
    for name in list(g.nodes):
        site = tr.trace.nodes[name]
        parents = tracker.parents.get(name, frozenset())
        for parent in parents:
            if parent in g.nodes:
                g.add_edge(parent, name)
    return g


def render_model(
    model: Callable[..., Any],
    model_args: tuple[Any, ...] = (),
    model_kwargs: dict[str, Any] | None = None,
    filename: str | os.PathLike[str] | None = None,
    render_params: bool = False,
) -> Any:
    """Draws the model: latent circles, observed and deterministic diamonds, plates as boxes.

    Args:
        model: the model function.
        model_args: positional arguments for one run of the model.
        model_kwargs: keyword arguments for that run.
        filename: where to save the figure (format from the suffix), if given.
        render_params: include ``param`` sites as nodes.

    Returns:
        ``(figure, graph)``.

    Example:
        >>> import ppl, torch
        >>> from distributions import Normal
        >>> def model():
        ...     ppl.sample("x", Normal(0.0, 1.0))
        >>> fig, graph = render_model(model)
        >>> list(graph.nodes)
        ['x']
    """
    graph = model_graph(model, model_args, model_kwargs, render_params)
    display = graph.copy()
    for _, data in display.nodes(data=True):
        data["kind"] = {"latent": "reparam", "deterministic": "latent"}.get(
            data["kind"], data["kind"]
        )
    return render_scg(display, filename=filename, title="model"), graph
