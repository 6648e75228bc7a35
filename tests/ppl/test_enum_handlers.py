"""The enumeration handlers: enum, markov and config_enumerate."""

import pytest
import torch

import ppl
from distributions import Bernoulli, Categorical, Normal, OneHotCategorical
from ppl.handlers import config_enumerate, enum, markov, trace
from ppl.runtime import get_stack

PAR = {"enumerate": "parallel"}


def test_enumerated_values_lie_left_of_the_plates():
    def model():
        with ppl.plate("data", 4):
            z = ppl.sample("z", Categorical(torch.ones(3) / 3), infer=PAR)
            w = ppl.sample("w", Bernoulli(0.5), infer=PAR)
            ppl.sample("x", Normal(z + w, 1.0), obs=torch.zeros(4))

    tr = trace(enum(model, first_available_dim=-2)).get_trace()
    assert tr.nodes["z"].value.shape == (3, 1)
    assert tr.nodes["z"].value.flatten().tolist() == [0, 1, 2]
    assert tr.nodes["w"].value.shape == (2, 1, 1)
    assert tr.nodes["x"].infer["_enum_dims"] == {-2: "z", -3: "w"}
    tr.compute_log_prob()
    assert tr.nodes["x"].log_prob.shape == (2, 3, 4)


def test_event_shaped_support_keeps_its_event_dims():
    def model():
        ppl.sample("z", OneHotCategorical(torch.ones(3) / 3), infer=PAR)

    value = trace(enum(model, first_available_dim=-2)).get_trace().nodes["z"].value
    assert value.shape == (3, 1, 3)
    assert torch.equal(value.reshape(3, 3), torch.eye(3))


def test_expand_lays_the_support_over_the_batch():
    def model():
        with ppl.plate("data", 4):
            ppl.sample("z", Bernoulli(0.5), infer={"enumerate": "parallel", "expand": True})

    assert trace(enum(model, first_available_dim=-2)).get_trace().nodes["z"].value.shape == (2, 4)


def test_unmarked_observed_and_sequential_sites_are_left_alone():
    def model():
        a = ppl.sample("a", Bernoulli(0.5))
        b = ppl.sample("b", Bernoulli(0.5), infer={"enumerate": "sequential"})
        ppl.sample("c", Bernoulli(0.5), obs=torch.tensor(1.0), infer=PAR)
        return a, b

    tr = trace(enum(model, first_available_dim=-1)).get_trace()
    assert [tr.nodes[n].value.shape for n in "abc"] == [(), (), ()]


def test_markov_iterator_keeps_one_handler_on_the_stack():
    seen = []
    for _ in markov(range(5)):
        seen.append(len(get_stack()))
    assert seen == [1] * 5
    assert get_stack() == []


def test_markov_windows_and_depths():
    def model():
        for t in markov(range(3)):
            ppl.sample(f"x_{t}", Bernoulli(0.5))
            with markov():
                ppl.sample(f"y_{t}", Bernoulli(0.5))

    tr = trace(model).get_trace()
    assert dict(tr.nodes["x_2"].infer["_markov_scope"]) == {"x_1": 1, "y_1": 1}
    assert tr.nodes["y_2"].infer["_markov_depth"] == 2
    assert tr.nodes["x_2"].infer["_markov_depth"] == 1


def test_variables_left_behind_by_a_chain_free_their_dims():
    def model():
        g = ppl.sample("g", Bernoulli(0.5), infer=PAR)
        for t in markov(range(4)):
            ppl.sample(f"x_{t}", Bernoulli(0.5), infer=PAR)
        ppl.sample("after", Bernoulli(0.5), infer=PAR)
        return g

    handler = enum(first_available_dim=-1)
    tr = trace(handler(model)).get_trace()
    assert tr.nodes["g"].infer["_enum_dim"] == -1
    assert {tr.nodes[f"x_{t}"].infer["_enum_dim"] for t in range(4)} == {-2, -3}
    assert tr.nodes["after"].infer["_enum_dims"] == {-1: "g", -2: "after"}
    assert handler.dims_used == {-1, -2, -3}


def test_config_enumerate_forms():
    def model():
        ppl.sample("z", Bernoulli(0.5))
        ppl.sample("k", Bernoulli(0.5), infer={"enumerate": "parallel"})
        ppl.sample("y", Normal(0.0, 1.0))
        ppl.sample("o", Bernoulli(0.5), obs=torch.tensor(1.0))

    tr = trace(config_enumerate(default="sequential")(model)).get_trace()
    assert tr.nodes["z"].infer["enumerate"] == "sequential"
    assert tr.nodes["k"].infer["enumerate"] == "parallel"
    assert "enumerate" not in tr.nodes["y"].infer
    assert "enumerate" not in tr.nodes["o"].infer


def test_errors_name_the_argument_or_site():
    with pytest.raises(ValueError, match="first_available_dim must be a negative int"):
        enum(first_available_dim=0)
    with pytest.raises(ValueError, match="history must be a non-negative int"):
        markov(history=-1)
    with pytest.raises(TypeError, match="markov: nothing to iterate"):
        iter(markov()).__next__()
    with pytest.raises(ValueError, match="default must be 'parallel', 'sequential' or None"):
        config_enumerate(default="vectorized")

    def needs_dim():
        ppl.sample("z", Bernoulli(0.5), infer=PAR)

    with pytest.raises(ValueError, match="site 'z' is marked for parallel enumeration but no"):
        trace(enum(needs_dim)).get_trace()

    def continuous():
        ppl.sample("u", Normal(0.0, 1.0), infer=PAR)

    with pytest.raises(ValueError, match="site 'u' is marked for enumeration but Normal has no"):
        trace(enum(continuous, first_available_dim=-1)).get_trace()

    def clash():
        z = ppl.sample("z", Bernoulli(0.5), infer=PAR)
        ppl.sample("w", Bernoulli(0.5 + 0.0 * torch.zeros(2, 1) + 0.0 * z), infer=PAR)

    with pytest.raises(ValueError, match=r"site 'w' has batch shape \(2, 2\), which already"):
        trace(enum(clash, first_available_dim=-1)).get_trace()
