"""render_model: model sites, data-flow edges, plates, and a drawn figure."""

import torch

import distributions as dist
import inference
import ppl


def eight_schools(sigma, y=None):
    mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
    tau = ppl.sample("tau", dist.Normal(0.0, 5.0)).exp()
    scale = ppl.param("scale", torch.tensor(1.0))
    with ppl.plate("schools", len(sigma)):
        theta_raw = ppl.sample("theta_raw", dist.Normal(0.0, 1.0))
        theta = ppl.deterministic("theta", mu + tau * theta_raw)
        return ppl.sample("obs", dist.Normal(theta, sigma * scale), obs=y)


def test_graph_has_kinds_edges_and_plates(tmp_path):
    path = tmp_path / "model.png"
    fig, g = inference.render_model(eight_schools, (torch.ones(8), torch.zeros(8)), filename=path)
    assert set(g.edges()) == {
        ("mu", "theta"),
        ("tau", "theta"),
        ("theta_raw", "theta"),
        ("theta", "obs"),
    }
    assert g.nodes["theta"]["kind"] == "deterministic"
    assert g.nodes["obs"]["kind"] == "observed"
    assert g.nodes["mu"]["kind"] == "latent"
    assert g.nodes["obs"]["plates"] == (("schools", -1, 8),)
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert fig.axes[0].get_title() == "model"


def test_params_render_on_request():
    g = inference.model_graph(eight_schools, (torch.ones(8), torch.zeros(8)), render_params=True)
    assert g.nodes["scale"]["kind"] == "param"
    assert g.has_edge("scale", "obs")
