"""Plate boxes of the SCG drawing: nested plates inside each other, siblings apart, names clear."""

import matplotlib
import networkx as nx

from inference.render import layered_layout, plate_boxes, render_scg

matplotlib.use("Agg")


def _graph():
    g = nx.DiGraph()
    g.add_node("a", plates=())
    g.add_node("g", plates=(("groups", -1, 3),))
    g.add_node("m", plates=(("groups", -1, 3), ("members", -2, 4)))
    g.add_node("obs", plates=(("members", -2, 4), ("groups", -1, 3)))
    g.add_node("h", plates=(("other", -1, 2),))
    g.add_edges_from([("a", "g"), ("g", "m"), ("m", "obs"), ("a", "h")])
    return g


def _inside(inner, outer):
    (x0, y0, w0, h0, _), (x1, y1, w1, h1, _) = inner, outer
    return x1 < x0 and y1 < y0 and x0 + w0 < x1 + w1 and y0 + h0 < y1 + h1


def _disjoint(b1, b2):
    (x0, y0, w0, h0, _), (x1, y1, w1, h1, _) = b1, b2
    return x0 + w0 < x1 or x1 + w1 < x0 or y0 + h0 < y1 or y1 + h1 < y0


def test_nested_plate_box_lies_strictly_inside_its_outer_box():
    g = _graph()
    boxes = plate_boxes(g, layered_layout(g))
    # "obs" lists its plates inner-first: nesting comes from membership, not order.
    assert boxes["members"][4] == 0 and boxes["groups"][4] == 1
    assert _inside(boxes["members"], boxes["groups"])
    assert _disjoint(boxes["groups"], boxes["other"])


def test_every_node_is_inside_exactly_its_plates_boxes():
    g = _graph()
    pos = layered_layout(g)
    boxes = plate_boxes(g, pos)
    for node, data in g.nodes(data=True):
        x, y = pos[node]
        mine = {p[0] for p in data["plates"]}
        for name, (x0, y0, w, h, _) in boxes.items():
            assert (x0 < x < x0 + w and y0 < y < y0 + h) == (name in mine), (node, name)


def test_plate_names_sit_inside_their_box_and_outside_nested_boxes():
    g = _graph()
    fig = render_scg(g)
    boxes = plate_boxes(g, layered_layout(g))
    texts = {t.get_text(): t.get_position() for t in fig.axes[0].texts}
    for name, (x0, y0, w, h, _) in boxes.items():
        x, y = texts[name]
        assert x0 < x < x0 + w and y0 < y < y0 + h
    x, y = texts["groups"]
    mx0, my0, _, _, _ = boxes["members"]
    # The outer name is in the strip under the inner box, not on or in it.
    assert y < my0


def test_node_markers_never_overlap_however_tall_the_graph():
    # A marker is sqrt(900) = 30 points wide, a diamond 30 * sqrt(2) = 42 points
    # corner to corner; centres 50 points apart leave air between any two, for a
    # graph of a few rows and one of 40 (the old drawing put 40 rows 33 apart).
    for rows in (3, 40):
        g = nx.DiGraph()
        for i in range(rows):
            g.add_node(f"model/x{i:02d}", kind="latent", plates=(("data", -1, 5),))
        fig = render_scg(g)
        fig.canvas.draw()  # the equal aspect is applied at drawing time
        ax = fig.axes[0]
        pos = layered_layout(g)
        points = [ax.transData.transform(p) * 72 / fig.dpi for p in pos.values()]
        gaps = [
            ((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5
            for i, a in enumerate(points)
            for b in points[i + 1 :]
        ]
        assert min(gaps) > 50, (rows, min(gaps))
        matplotlib.pyplot.close(fig)
