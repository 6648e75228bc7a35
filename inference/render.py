"""Drawing stochastic computation graphs with matplotlib (no graphviz needed).

Plates are drawn as dashed boxes around their members. A plate whose members
all lie in another plate is drawn inside it (its box strictly within the
outer box), sibling boxes never overlap, and each box's name sits in a strip
of the box reserved for it, clear of the box lines and of the boxes inside.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # drawing modules import networkx when they draw
    import networkx as nx

__all__ = ["render_scg", "layered_layout", "plate_boxes"]

_MARKERS = {
    "reparam": ("o", "#9ecae1"),
    "nonreparam": ("o", "#fdae6b"),
    "latent": ("D", "#d9d9d9"),
    "observed": ("D", "#bdbdbd"),
    "param": ("s", "#c7e9c0"),
}

# Distances in data units (one row of nodes is one unit high).
_NODE = 0.35  # half the size of a node marker, with a little air
_PAD = 0.5  # from a node centre to the box of its innermost plate
_NEST = 0.45  # extra margin per level of plates nested inside a box
_LABEL = 0.35  # strip under a box's members that holds its name
_INCH = 0.95  # figure inches per layout unit


def _plate_members(graph: nx.DiGraph) -> tuple[dict[str, set[str]], dict[str, int | None]]:
    members: dict[str, set[str]] = {}
    dims: dict[str, int | None] = {}
    for node, data in graph.nodes(data=True):
        for name, dim, *_ in data.get("plates", ()):
            members.setdefault(name, set()).add(node)
            dims[name] = dim
    return members, dims


def _plate_levels(graph: nx.DiGraph) -> Any:
    """Plate name to ``(members, level)``; level 0 holds no other plate inside it.

    ``Q`` is inside ``P`` when every member of ``Q`` is a member of ``P`` and
    ``P`` is the larger plate, or equal in members and declared further out
    (its ``dim`` to the right of ``Q``'s, as plates allocate their dims).
    """
    members, dims = _plate_members(graph)

    def outerness(name: str) -> tuple[int, int | None, str]:
        return (len(members[name]), dims[name] if dims[name] is not None else 0, name)

    def inside(q: str, p: str) -> bool:
        return q != p and members[q] <= members[p] and outerness(q) < outerness(p)

    levels: dict[str, int] = {}
    for name in sorted(members, key=outerness):
        levels[name] = 1 + max((levels[q] for q in levels if inside(q, name)), default=-1)
    return {name: (members[name], levels[name]) for name in members}, outerness


def _pad(level: int) -> float:
    return _PAD + _NEST * level


def _row_step(before: set[str], after: set[str], levels: Any) -> float:
    """Vertical distance between consecutive rows with plate sets ``before`` and ``after``."""
    exited = [_pad(levels[p][1]) + _LABEL for p in before - after]
    entered = [_pad(levels[p][1]) for p in after - before]
    return max(1.0, max(exited, default=_NODE) + max(entered, default=_NODE) + 0.15)


def layered_layout(graph: nx.DiGraph) -> dict[str, tuple[float, float]]:
    """Positions nodes by longest-path depth (x) and one global row order (y).

    Rows are ordered by the nodes' plates, outermost first, so every plate's
    members form one contiguous band (nested plates a band inside it) and a
    box encloses no outsider; rows on either side of a box boundary are spaced
    so that the boxes (and their name strips) fit between them.
    """
    import networkx as nx

    depth: dict[str, int] = {}
    for node in nx.topological_sort(graph):
        preds = list(graph.predecessors(node))
        depth[node] = 1 + max((depth[p] for p in preds), default=-1)
    levels, outerness = _plate_levels(graph)

    def plates_of(n: str) -> tuple[str, ...]:
        names = {p[0] for p in graph.nodes[n].get("plates", ())}
        return tuple(sorted(names, key=outerness, reverse=True))

    pos: dict[str, tuple[float, float]] = {}
    y = 0.0
    previous: set[str] = set()
    for node in sorted(depth, key=lambda n: (plates_of(n), depth[n], n)):
        current = set(plates_of(node))
        if pos:
            y -= _row_step(previous, current, levels)
        pos[node], previous = (2.2 * depth[node], y), current
    return pos


def plate_boxes(
    graph: nx.DiGraph, pos: dict[str, tuple[float, float]]
) -> dict[str, tuple[float, float, float, float, int]]:
    """Each plate's box as ``(x0, y0, width, height, level)`` in data coordinates.

    Example:
        >>> import networkx as nx
        >>> g = nx.DiGraph()
        >>> g.add_node("x", plates=(("outer", -1, 2), ("inner", -2, 3)))
        >>> boxes = plate_boxes(g, {"x": (0.0, 0.0)})
        >>> outer, inner = boxes["outer"], boxes["inner"]
        >>> outer[0] < inner[0] and outer[1] < inner[1], outer[4], inner[4]
        (True, 1, 0)
    """
    boxes = {}
    for name, (members, level) in _plate_levels(graph)[0].items():
        xs, ys = [pos[n][0] for n in members], [pos[n][1] for n in members]
        pad = _pad(level)
        x0, y0 = min(xs) - pad, min(ys) - pad - _LABEL
        boxes[name] = (x0, y0, max(xs) + pad - x0, max(ys) + pad - y0, level)
    return boxes


def _draw_plates(ax: Any, graph: nx.DiGraph, pos: dict[str, tuple[float, float]]) -> None:
    from matplotlib.patches import Rectangle

    for name, (x0, y0, width, height, _) in sorted(plate_boxes(graph, pos).items()):
        ax.add_patch(Rectangle((x0, y0), width, height, fill=False, ls="--", ec="gray"))
        # Bottom right, inside the strip the box reserves under its members
        # (and under any box nested in it): clear of every line.
        ax.text(
            x0 + width - 0.08,
            y0 + 0.06,
            name,
            ha="right",
            va="bottom",
            fontsize=8,
            color="dimgray",
            zorder=5,
            bbox=dict(facecolor="white", edgecolor="none", pad=0.5),
        )


def render_scg(
    graph: nx.DiGraph,
    filename: str | os.PathLike[str] | None = None,
    ax: Any = None,
    title: str = "stochastic computation graph",
) -> Any:
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
        # A fixed scale in inches per layout unit (rows are one unit apart), so a
        # marker (about 0.45 in across) never reaches the next row, however many
        # rows there are; the margins hold the title and the boxes' padding.
        xs, ys = [x for x, _ in pos.values()] or [0.0], [y for _, y in pos.values()] or [0.0]
        width = _INCH * (max(xs) - min(xs) + 3.0)
        height = _INCH * (max(ys) - min(ys) + 3.0)
        fig, ax = plt.subplots(figsize=(max(width, 4.0), height))
        fig.subplots_adjust(left=0.0, right=1.0, bottom=0.0, top=1.0 - 0.4 / height)
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
    xs, ys = [x for x, _ in pos.values()] or [0.0], [y for _, y in pos.values()] or [0.0]
    ax.set_xlim(min(xs) - 1.5, max(xs) + 1.5)
    ax.set_ylim(min(ys) - 1.5, max(ys) + 1.5)
    # Equal units on both axes: the row spacing in inches is the one the figure
    # size was chosen for (a taller graph gets a taller figure, not smaller rows).
    ax.set_aspect("equal", adjustable="box")
    if filename is not None:
        fig.savefig(filename, bbox_inches="tight")
        plt.close(fig)
    return fig
