"""The primitives: sample, observe, param, factor, deterministic."""

import pytest
import torch

import ppl
from distributions import Normal
from ppl.handlers import trace


def test_sample_shape_with_and_without_handlers():
    d = Normal(torch.zeros(2), 1.0)
    assert ppl.sample("x", d, sample_shape=(3,)).shape == (3, 2)
    tr = trace(lambda: ppl.sample("x", d, sample_shape=(3,))).get_trace()
    assert tr.nodes["x"]["value"].shape == (3, 2)
    assert tr.nodes["x"]["kwargs"]["sample_shape"] == (3,)
    tr.compute_log_prob()
    assert tr.nodes["x"]["log_prob"].shape == (3, 2)


def test_sample_under_handlers_is_reparameterized():
    loc = torch.tensor(1.0, requires_grad=True)
    x = trace(lambda: ppl.sample("x", Normal(loc, 2.0)))()
    x.backward()
    assert loc.grad.item() == 1.0


def test_infer_dict_is_copied_not_shared():
    hints = {"enumerate": "parallel"}
    tr = trace(lambda: ppl.sample("x", Normal(0.0, 1.0), infer=hints)).get_trace()
    tr.nodes["x"]["infer"]["extra"] = 1
    assert hints == {"enumerate": "parallel"}


def test_observe_is_an_observed_sample():
    value = torch.tensor(0.3)
    tr = trace(lambda: ppl.observe("y", Normal(0.0, 1.0), value)).get_trace()
    assert tr.observation_nodes == ["y"] and tr.nodes["y"]["value"] is value
    with pytest.raises(ValueError, match="observe site 'y': value is None"):
        ppl.observe("y", Normal(0.0, 1.0), None)


def test_factor_adds_log_factor():
    def model():
        with ppl.plate("data", 3):
            ppl.factor("f", torch.tensor([1.0, 2.0, 3.0]))

    tr = trace(model).get_trace()
    site = tr.nodes["f"]
    assert site["is_observed"] and site["infer"] == {"is_auxiliary": True}
    assert torch.allclose(tr.log_prob_sum(), torch.tensor(6.0))
    assert ppl.factor("f", torch.tensor(1.0)) is None  # no handler: nothing to record


def test_deterministic_records_without_log_prob():
    def model():
        x = ppl.sample("x", Normal(0.0, 1.0))
        with ppl.plate("data", 4):
            return ppl.deterministic("d", x * torch.ones(4), event_dim=0)

    tr = trace(model).get_trace()
    site = tr.nodes["d"]
    assert site["infer"]["_deterministic"] and site["is_observed"] and site["mask"] is False
    tr.compute_log_prob()
    assert torch.equal(site["log_prob"], torch.zeros(4))
    assert torch.allclose(tr.log_prob_sum(), tr.nodes["x"]["log_prob"])
    assert tr.nodes["_RETURN"]["value"] is site["value"]


def test_deterministic_without_handlers_returns_value():
    value = torch.ones(2)
    assert ppl.deterministic("d", value) is value


def test_module_type_error():
    with pytest.raises(TypeError, match="module 'm': expected a torch.nn.Module, got int"):
        ppl.module("m", 3)
