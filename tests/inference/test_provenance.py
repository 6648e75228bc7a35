"""The data-flow analysis behind TraceGraph_ELBO: edges found, leaks caught, never stale."""

import pytest
import torch

import distributions as dist
import inference
import ppl
from inference import ConservativeGraphWarning, TraceGraph_ELBO
from inference.traces import trace_pair

OBS = torch.tensor(0.3)


def _guide():
    ppl.sample("z", dist.Bernoulli(logits=ppl.param("g", torch.tensor(0.4))))


def _parents(model):
    _, _, prov = trace_pair(model, _guide, (), {}, provenance=True)
    return prov.parents["model"]["x"], prov.leaks["model"]


def _leaky(use):
    def model():
        z = ppl.sample("z", dist.Bernoulli(0.5))
        ppl.sample("x", dist.Normal(use(z), 1.0), obs=OBS)

    return model


LEAKS = {
    "item": lambda z: 1.0 if z.item() == 1 else -1.0,
    "bool": lambda z: 1.0 if z else -1.0,
    "int": lambda z: float(int(z)),
    "float": lambda z: float(z),
    "tolist": lambda z: z.reshape(1).tolist()[0],
    "list index": lambda z: [-1.0, 1.0][z.long()],
    "numpy": lambda z: float(z.numpy()),
    "format": lambda z: float(f"{z:.1f}"),
}


@pytest.mark.parametrize("use", list(LEAKS.values()), ids=list(LEAKS))
def test_a_value_leaving_torch_is_a_leak(use):
    parents, leaks = _parents(_leaky(use))
    assert "z" not in parents
    assert any("z" in sources for sources, _ in leaks)


FLOWS = {
    "arithmetic": lambda z: 2 * z - 1,
    "torch.tensor of a list": lambda z: torch.tensor([z, 1.0])[0],
    "torch.full": lambda z: torch.full((), z),
    "where": lambda z: torch.where(z > 0, 1.0, -1.0),
    "tensor index": lambda z: torch.tensor([-1.0, 1.0])[z.long()],
    "setitem into a fresh tensor": lambda z: _write(torch.zeros(2), z)[0],
    "write seen through an earlier view": lambda z: _write_through_view(z),
    "deterministic": lambda z: ppl.deterministic("y", 2 * z - 1),
}


def _write(buffer, z):
    buffer[0] = z
    return buffer


def _write_through_view(z):
    buffer = torch.zeros(2)
    view = buffer[:1]
    buffer.copy_(torch.stack([z, z]))
    return view[0]


@pytest.mark.parametrize("use", list(FLOWS.values()), ids=list(FLOWS))
def test_torch_data_flow_is_an_edge(use):
    parents, leaks = _parents(_leaky(use))
    assert "z" in parents
    assert not leaks


class _Renamed(dist.Normal):
    # A user subclass keeping its location under a name of its own.
    def __init__(self, centre):
        self.centre = {"where": [centre]}
        super().__init__(torch.zeros(()), 1.0)

    def log_prob(self, value):
        return super().log_prob(value - self.centre["where"][0])


WRAPPED = {
    "transformed, to_event, mask": lambda z: (
        dist.TransformedDistribution(
            dist.Normal((2 * z - 1).reshape(1), 1.0), [dist.transforms.ExpTransform()]
        )
        .to_event(1)
        .mask(torch.tensor(True))
    ),
    "expand, to_event, mask, to_event": lambda z: (
        dist.Normal(z, 1.0).expand([1, 1]).to_event(1).mask(True).to_event(1)
    ),
    "mixture": lambda z: dist.MixtureSameFamily(
        dist.Categorical(torch.ones(2)), dist.Normal(torch.stack([z, -z]), 1.0)
    ),
    "user subclass": lambda z: _Renamed(z),
}


@pytest.mark.parametrize("build", list(WRAPPED.values()), ids=list(WRAPPED))
def test_parents_are_found_at_any_wrapper_depth(build):
    def model():
        z = ppl.sample("z", dist.Bernoulli(0.5))
        d = build(z)
        value = d.sample() if d.event_shape or d.batch_shape else OBS
        ppl.sample("x", d, obs=value.detach() if isinstance(value, torch.Tensor) else value)

    parents, _ = _parents(model)
    assert "z" in parents


def test_leak_warns_once_per_site_and_credits_later_costs():
    elbo = TraceGraph_ELBO()
    model = _leaky(LEAKS["item"])
    with pytest.warns(ConservativeGraphWarning, match="site 'z' left torch"):
        elbo.loss(model, _guide)
    assert elbo.graph.has_edge("guide/z", "model/x")
    elbo.loss(model, _guide)  # no second warning: the suite turns warnings into errors


def test_graph_follows_data_flow_that_depends_on_an_argument():
    def model(flow):
        z = ppl.sample("z", dist.Bernoulli(0.5))
        ppl.sample("x", dist.Normal(z if flow else torch.tensor(0.0), 1.0), obs=OBS)

    def guide(flow):
        _guide()

    elbo = TraceGraph_ELBO()
    elbo.loss(model, guide, False)
    assert not elbo.graph.has_edge("guide/z", "model/x")
    elbo.loss(model, guide, True)  # same names, shapes and plates
    assert elbo.graph.has_edge("guide/z", "model/x")


def test_scg_of_a_deterministic_pass_through():
    def model():
        z = ppl.sample("z", dist.Bernoulli(0.5))
        ppl.sample("x", dist.Normal(ppl.deterministic("y", 2 * z - 1), 1.0), obs=OBS)

    assert inference.scg(model, _guide).has_edge("guide/z", "model/x")


def _exact_grad(extra):
    # d(-ELBO)/dg for z ~ Bernoulli(0.5), x ~ N(2z - 1, 1) at OBS, q = Bernoulli(logits=g),
    # with `extra(z)` added to the guide's log density.
    g = torch.tensor(0.4, requires_grad=True)
    q = torch.sigmoid(g)
    elbo = 0.0
    for z, qz in ((1.0, q), (0.0, 1 - q)):
        log_p = torch.log(torch.tensor(0.5)) + dist.Normal(2 * z - 1, 1.0).log_prob(OBS)
        elbo = elbo + qz * (log_p - torch.log(qz) - extra(z))
    (-elbo).backward()
    return -elbo.item(), g.grad.item()


def _mean_grad(elbo, model, guide, n=4000):
    ppl.clear_param_store()
    loss = elbo(num_particles=n, vectorize_particles=True, max_plate_nesting=0)
    value = loss.differentiable_loss(model, guide)
    (grad,) = torch.autograd.grad(value, [ppl.get_param_store().get_unconstrained("g")])
    return value.item(), grad.item()


@pytest.mark.parametrize("elbo", [inference.Trace_ELBO, TraceGraph_ELBO])
def test_a_guide_factor_adds_to_the_guide_density(elbo):
    def model():
        z = ppl.sample("z", dist.Bernoulli(0.5))
        ppl.sample("x", dist.Normal(2 * z - 1, 1.0), obs=OBS)

    exact_value, exact_grad = _exact_grad(lambda z: 0.7 * z)
    value, grad = _mean_grad(elbo, model, _factor_guide)
    # 4000 particles: the gradient's standard error is below 0.02 here; 5 s.e. ~ 1e-6 false alarms.
    assert value == pytest.approx(exact_value, abs=0.08)
    assert grad == pytest.approx(exact_grad, abs=0.1)


def _factor_guide():
    z = ppl.sample("z", dist.Bernoulli(logits=ppl.param("g", torch.tensor(0.4))))
    ppl.factor("f", 0.7 * z, has_rsample=False)


def test_data_flow_is_tracked_again_once_score_function_sites_appear(monkeypatch):
    import inference.elbo as elbo_module

    tracked = []

    def recording(model, guide, args, kwargs, provenance=False):
        tracked.append(provenance)
        return trace_pair(model, guide, args, kwargs, provenance)

    monkeypatch.setattr(elbo_module, "trace_pair", recording)

    def model(discrete):
        z = ppl.sample("z", dist.Bernoulli(0.5) if discrete else dist.Normal(0.0, 1.0))
        ppl.sample("x", dist.Normal(z, 1.0), obs=OBS)

    def guide(discrete):
        g = ppl.param("g", torch.tensor(0.4))
        ppl.sample("z", dist.Bernoulli(logits=g) if discrete else dist.Normal(g, 1.0))

    elbo = TraceGraph_ELBO()
    elbo.loss(model, guide, False)
    elbo.loss(model, guide, False)  # pathwise only: the graph decides nothing
    elbo.loss(model, guide, True)  # a score-function site: run again, tracked
    assert tracked == [True, False, False, True]
    assert elbo.graph.nodes["guide/z"]["kind"] == "nonreparam"
    assert elbo.graph.has_edge("guide/z", "model/x")


def test_a_tensor_that_takes_no_tag_is_a_leak_not_a_lost_edge():
    from inference.provenance import ProvenanceMode

    class NoAttributes(torch.Tensor):
        def __setattr__(self, name, value):
            raise AttributeError(name)

    mode = ProvenanceMode()
    mode.tag(torch.zeros(1).as_subclass(NoAttributes), frozenset({"z"}))
    assert mode.leaks == [(frozenset({"z"}), 0)]
    mode.tag(torch.zeros(1), frozenset({"z"}))  # a plain tensor takes it
    assert len(mode.leaks) == 1
