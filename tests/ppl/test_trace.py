"""Trace: node records, site lists, log-probabilities and the shape table."""

import pytest
import torch

import ppl
from distributions import Normal
from ppl.handlers import trace

PYRO_FIELDS = (
    "type",
    "name",
    "fn",
    "value",
    "is_observed",
    "infer",
    "scale",
    "mask",
    "cond_indep_stack",
    "args",
    "kwargs",
)


def _model(data):
    loc = ppl.param("loc", torch.tensor(0.5))
    z = ppl.sample("z", Normal(loc, 1.0), infer={"enumerate": "parallel"})
    with ppl.plate("data", len(data)):
        ppl.sample("obs", Normal(z, 2.0), obs=data)
    return z


def test_nodes_have_pyro_fields_and_order():
    data = torch.tensor([0.1, -0.3, 0.7])
    tr = trace(_model).get_trace(data)
    assert list(tr) == ["loc", "z", "data", "obs", "_RETURN"]
    for name in ("loc", "z", "obs"):
        site = tr.nodes[name]
        assert all(key in site for key in PYRO_FIELDS)
    assert tr.nodes["z"]["infer"] == {"enumerate": "parallel"}
    assert tr.nodes["z"]["kwargs"] == {"sample_shape": ()}
    assert tr.nodes["obs"]["is_observed"] and tr.nodes["obs"]["value"] is data
    assert tr.nodes["_RETURN"]["type"] == "return"
    assert tr.nodes["_RETURN"]["value"] is tr.nodes["z"]["value"]
    assert tr.nodes["loc"]["args"][0] == "loc"


def test_site_lists():
    tr = trace(_model).get_trace(torch.zeros(2))
    assert tr.stochastic_nodes == ["z"]
    assert tr.reparameterized_nodes == ["z"]
    assert tr.nonreparam_stochastic_nodes == []
    assert tr.observation_nodes == ["obs"]
    assert tr.param_nodes == ["loc"]
    assert [name for name, _ in tr.iter_stochastic_nodes()] == ["z"]


def test_compute_log_prob_matches_distribution():
    data = torch.tensor([0.1, -0.3, 0.7])
    tr = trace(_model).get_trace(data)
    tr.compute_log_prob()
    z = tr.nodes["z"]["value"]
    expected_z = Normal(0.5, 1.0).log_prob(z)
    expected_obs = Normal(z, 2.0).log_prob(data)
    assert torch.allclose(tr.nodes["z"]["log_prob"], expected_z)
    assert torch.allclose(tr.nodes["obs"]["unscaled_log_prob"], expected_obs)
    assert torch.allclose(tr.nodes["obs"]["log_prob_sum"], expected_obs.sum())
    assert torch.allclose(tr.log_prob_sum(), expected_z + expected_obs.sum())
    only_obs = tr.log_prob_sum(site_filter=lambda name, site: site["is_observed"])
    assert torch.allclose(only_obs, expected_obs.sum())


def test_log_prob_is_differentiable_in_params():
    tr = trace(_model).get_trace(torch.zeros(2))
    tr.log_prob_sum().backward()
    # z = loc + eps (rsample), so log N(z; loc, 1) does not move with loc, and
    # d/dloc sum_i log N(0; z, 2) = sum_i (0 - z) / 4 = -z / 2 for two points.
    z = tr.nodes["z"]["value"].detach()
    grad = ppl.get_param_store().get_unconstrained("loc").grad
    assert torch.allclose(grad, -z / 2)


def test_log_prob_sum_of_empty_trace_is_zero_tensor():
    tr = trace(lambda: None).get_trace()
    assert torch.equal(tr.log_prob_sum(), torch.tensor(0.0))


def test_duplicate_sample_site_is_an_error():
    def model():
        ppl.sample("x", Normal(0.0, 1.0))
        ppl.sample("x", Normal(0.0, 1.0))

    with pytest.raises(RuntimeError, match="Duplicate site name 'x': a sample site"):
        trace(model).get_trace()


def test_name_used_by_two_types_is_an_error():
    def model():
        ppl.param("x", torch.tensor(1.0))
        ppl.sample("x", Normal(0.0, 1.0))

    with pytest.raises(RuntimeError, match="'x' is used by a param site and a sample site"):
        trace(model).get_trace()


def test_params_may_be_read_twice():
    def model():
        ppl.param("w", torch.tensor(1.0))
        return ppl.param("w")

    assert trace(model).get_trace().param_nodes == ["w"]


def test_format_shapes_table():
    data = torch.zeros(3)
    tr = trace(_model).get_trace(data)
    table = tr.format_shapes()
    lines = table.splitlines()
    assert lines[0] == "Trace shapes:"
    assert lines[1].split() == ["site", "type", "dist", "batch", "|", "event", "value"] + [
        "log_prob",
        "plates",
    ]
    obs_row = next(line for line in lines if line.strip().startswith("obs"))
    assert obs_row.split() == ["obs", "observed", "Normal", "(3,)", "|", "()", "(3,)", "(3,)"] + [
        "data"
    ]
    assert "plates: data: size 3, subsample 3" in table


def test_error_inside_traced_model_gets_shape_table():
    def model():
        ppl.sample("z", Normal(torch.zeros(2), 1.0))
        raise ValueError("boom")

    with pytest.raises(ValueError, match=r"boom\nTrace shapes:(.|\n)*z +sample +Normal +\(2,\)"):
        trace(model).get_trace()


def test_shape_table_attached_once_in_nested_traces():
    def model():
        raise RuntimeError("inner failure")

    with pytest.raises(RuntimeError) as info:
        trace(trace(model))()
    assert str(info.value).count("Trace shapes:") == 1


def test_custom_exceptions_keep_their_type_and_attributes():
    class Escape(Exception):
        def __init__(self, site):
            super().__init__("escape")
            self.site = site

    def model():
        raise Escape("x")

    with pytest.raises(Escape) as info:
        trace(model).get_trace()
    assert info.value.site == "x"


def test_log_prob_error_names_the_site():
    def model():
        ppl.sample("x", Normal(0.0, 1.0))

    tr = trace(model).get_trace()
    tr.nodes["x"]["value"] = torch.zeros(2, 2)
    tr.nodes["x"]["fn"] = Normal(torch.zeros(3), 1.0)
    with pytest.raises(ValueError, match="Error while computing log_prob at site 'x'"):
        tr.compute_log_prob()


def test_copy_and_remove_node():
    tr = trace(_model).get_trace(torch.zeros(2))
    new = tr.copy()
    new.remove_node("z")
    assert "z" in tr and "z" not in new and len(new) == len(tr) - 1


def test_input_node_holds_the_call_arguments_as_in_pyro():
    def model(data, scale=1.0):
        return ppl.sample("x", Normal(0.0, scale), obs=data)

    data = torch.tensor(0.5)
    tr = ppl.handlers.trace(model).get_trace(data, scale=2.0)
    node = tr.nodes["_INPUT"]
    assert node["type"] == "args" and node["name"] == "_INPUT"
    assert node["args"] == (data,) and node["kwargs"] == {"scale": 2.0}
    assert tr.copy().nodes["_INPUT"]["args"] == (data,)
    # Not a site: code walking the nodes sees sample, param, plate and return only.
    assert list(tr.nodes) == ["x", "_RETURN"] and "_INPUT" not in tr.nodes
    with ppl.handlers.trace() as tracer:
        model(data)
    with pytest.raises(KeyError):
        tracer.trace.nodes["_INPUT"]  # a `with` block has no call to record


def test_param_only_trace_records_only_params_and_leaves_the_run_unchanged():
    # SVI wraps every step in one: it must see each param read (also inside a
    # plate and under an inner trace) and nothing else, and the inner trace
    # must record the same sites as without it.
    data = torch.tensor([0.1, -0.3, 0.7])
    with trace(param_only=True) as outer:
        inner = trace(_model).get_trace(data)
    plain = trace(_model).get_trace(data)
    assert list(outer.trace.nodes) == ["loc"]
    assert outer.trace.nodes["loc"].value is inner.nodes["loc"].value
    assert list(inner.nodes) == list(plain.nodes)
    assert inner.nodes["data"].value.tolist() == [0, 1, 2]


def test_param_only_trace_sees_params_created_inside_a_plate():
    def model():
        with ppl.plate("p", 2):
            ppl.param("w", torch.ones(2), event_dim=0)
            ppl.sample("x", Normal(0.0, 1.0))

    with trace(param_only=True) as outer:
        model()
    assert list(outer.trace.nodes) == ["w"]
