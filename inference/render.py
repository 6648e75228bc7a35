"""Drawing stochastic computation graphs with matplotlib (no graphviz needed)."""

__all__ = ["render_scg", "layered_layout"]

_MARKERS = {
    "reparam": ("o", "#9ecae1"),
    "nonreparam": ("o", "#fdae6b"),
    "latent": ("D", "#d9d9d9"),
    "observed": ("D", "#bdbdbd"),
    "param": ("s", "#c7e9c0"),
}


def layered_layout(graph):
    """Positions nodes by longest-path depth (x) and order within a depth (y)."""
    import networkx as nx

    depth = {}
    for node in nx.topological_sort(graph):
        preds = list(graph.predecessors(node))
        depth[node] = 1 + max((depth[p] for p in preds), default=-1)

    # One global row order, plate members last, so every plate's members form
    # one contiguous band and its box encloses no outsider.
    def key(n):
        return (tuple(p[0] for p in graph.nodes[n].get("plates", ())), depth[n], n)

    pos = {}
    for row, node in enumerate(sorted(depth, key=key)):
        pos[node] = (2.2 * depth[node], -1.0 * row)
    return pos


def _draw_plates(ax, graph, pos):
    plates = {}
    for node, data in graph.nodes(data=True):
        for plate in data.get("plates", ()):
            plates.setdefault(plate[0], []).append(pos[node])
    for i, (name, points) in enumerate(sorted(plates.items())):
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        pad = 0.5 + 0.15 * i
        from matplotlib.patches import FancyBboxPatch

        box = FancyBboxPatch(
            (min(xs) - pad, min(ys) - pad),
            max(xs) - min(xs) + 2 * pad,
            max(ys) - min(ys) + 2 * pad,
            boxstyle="round,pad=0.02",
            fill=False,
            linestyle="--",
            edgecolor="gray",
        )
        ax.add_patch(box)
        ax.text(
            max(xs) + pad, min(ys) - pad, name, ha="right", va="bottom", fontsize=8, color="gray"
        )


def render_scg(graph, filename=None, ax=None, title="stochastic computation graph"):
    """Draws the graph: stochastic nodes as circles, costs as diamonds, plates as boxes.

    Args:
        graph: a graph from :func:`inference.scg`.
        filename: save the figure there when given (PNG, PDF, SVG by suffix).
        ax: a matplotlib axes to draw on; a new figure when ``None``.
        title: the axes title.

    Returns:
        The matplotlib figure.

    Example:
        >>> import networkx as nx
        >>> g = nx.DiGraph()
        >>> g.add_node("guide/z", kind="nonreparam", plates=(), site="z")
        >>> g.add_node("model/z", kind="latent", plates=(), site="z")
        >>> g.add_edge("guide/z", "model/z")
        >>> render_scg(g).axes[0].get_title()
        'stochastic computation graph'
    """
    # matplotlib loads only when something is drawn: `import inference` stays
    # cheap and needs no display backend.
    import matplotlib.pyplot as plt

    pos = layered_layout(graph)
    if ax is None:
        width = 3 + 1.8 * max((x for x, _ in pos.values()), default=0) / 2.2
        fig, ax = plt.subplots(figsize=(max(width, 4), 1.5 + 0.8 * len(graph)))
    else:
        fig = ax.figure
    for a, b in graph.edges():
        ax.annotate(
            "",
            xy=pos[b],
            xytext=pos[a],
            arrowprops=dict(
                arrowstyle="-|>", color="black", shrinkA=14, shrinkB=14, mutation_scale=14
            ),
        )
    for node, data in graph.nodes(data=True):
        marker, color = _MARKERS.get(data.get("kind"), ("o", "white"))
        ax.scatter(*pos[node], s=900, marker=marker, c=color, edgecolors="black", zorder=3)
        ax.text(*pos[node], node.replace("/", "\n"), ha="center", va="center", fontsize=7, zorder=4)
    _draw_plates(ax, graph, pos)
    ax.set_title(title)
    ax.axis("off")
    ax.margins(0.2)
    if filename is not None:
        fig.savefig(filename, bbox_inches="tight")
        plt.close(fig)
    return fig
