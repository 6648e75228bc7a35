"""The stochastic computation graph: data-flow edges, caching, rendering."""

import torch

import distributions as dist
import inference
import ppl
from inference import TraceGraph_ELBO
from inference import stochastic_graph as scg_module


def mixture_model(data):
    a = ppl.sample("a", dist.Bernoulli(0.5))
    b = ppl.sample("b", dist.Bernoulli(0.5))
    with ppl.plate("p", len(data)):
        z = ppl.sample("z", dist.Categorical(torch.ones(3) / 3))
        ppl.sample("x", dist.Normal(torch.tensor([0.0, 1.0, 2.0])[z] + a, 1.0), obs=data)
    ppl.sample("y", dist.Normal(b, 1.0), obs=torch.tensor(0.0))


def mixture_guide(data):
    ppl.sample("a", dist.Bernoulli(0.5))
    ppl.sample("b", dist.Bernoulli(0.5))
    with ppl.plate("p", len(data)):
        ppl.sample("z", dist.Categorical(torch.ones(3) / 3))


def test_edges_follow_data_flow_not_program_order():
    g = inference.scg(mixture_model, mixture_guide, torch.zeros(3))
    edges = set(g.edges())
    # z reaches x through integer indexing; a through addition; b only y.
    assert ("guide/z", "model/x") in edges
    assert ("guide/a", "model/x") in edges
    assert ("guide/b", "model/y") in edges
    assert ("guide/a", "model/y") not in edges
    assert ("guide/b", "model/x") not in edges
    assert g.nodes["guide/z"]["kind"] == "nonreparam"
    assert g.nodes["model/x"]["kind"] == "observed"
    assert g.nodes["model/x"]["plates"][0][0] == "p"


def test_guide_internal_data_flow_is_an_edge():
    def model():
        ppl.sample("u", dist.Normal(0.0, 1.0))
        ppl.sample("v", dist.Normal(0.0, 1.0))

    def guide():
        u = ppl.sample("u", dist.Normal(0.0, 1.0))
        ppl.sample("v", dist.Normal(u * 2, 1.0))

    g = inference.scg(model, guide)
    assert g.has_edge("guide/u", "guide/v")
    assert g.nodes["guide/u"]["kind"] == "reparam"


def test_graph_is_rebuilt_only_when_structure_or_data_flow_changes(monkeypatch):
    calls = []
    original = scg_module.build_scg

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(scg_module, "build_scg", counting)
    elbo = TraceGraph_ELBO()
    for _ in range(3):
        elbo.loss(mixture_model, mixture_guide, torch.zeros(3))
    assert len(calls) == 1
    elbo.loss(mixture_model, mixture_guide, torch.zeros(5))  # plate size changed
    assert len(calls) == 2


def test_render_scg_writes_a_png(tmp_path):
    g = inference.scg(mixture_model, mixture_guide, torch.zeros(3))
    nodes, edges = dict(g.nodes(data=True)), set(g.edges())
    path = tmp_path / "scg.png"
    inference.render_scg(g, filename=path)
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 5000
    # Rendering is a view: the graph it was given is left as it was.
    assert dict(g.nodes(data=True)) == nodes and set(g.edges()) == edges
