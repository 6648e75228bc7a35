"""Semantics of each handler in ppl.handlers."""

import random

import numpy as np
import pytest
import torch

import ppl
from distributions import Normal
from ppl import handlers
from ppl.handlers import trace


def model():
    x = ppl.sample("x", Normal(0.0, 1.0))
    ppl.sample("y", Normal(x, 1.0), obs=torch.tensor(0.5))
    return x


def test_replay_reuses_latent_values_and_keeps_observations():
    guide_trace = trace(lambda: ppl.sample("x", Normal(3.0, 0.1))).get_trace()
    tr = trace(handlers.replay(model, trace=guide_trace)).get_trace()
    assert tr.nodes["x"]["value"] is guide_trace.nodes["x"]["value"]
    assert tr.nodes["y"]["value"].item() == 0.5


def test_replay_merges_guide_infer():
    def guide():
        ppl.sample("x", Normal(0.0, 1.0), infer={"baseline": {"loo": True}})

    guide_trace = trace(guide).get_trace()
    tr = trace(handlers.replay(model, trace=guide_trace)).get_trace()
    assert tr.nodes["x"]["infer"] == {"baseline": {"loo": True}}


def test_replay_rejects_observed_guide_site():
    guide_trace = trace(
        lambda: ppl.sample("x", Normal(0.0, 1.0), obs=torch.tensor(1.0))
    ).get_trace()
    with pytest.raises(RuntimeError, match="site 'x' is a latent sample site in the model but a"):
        handlers.replay(model, trace=guide_trace)()


def test_replay_params_and_argument_errors():
    def m():
        return ppl.param("w", torch.tensor(1.0))

    assert handlers.replay(m, params={"w": torch.tensor(7.0)})().item() == 7.0
    with pytest.raises(ValueError, match="replay needs trace="):
        handlers.replay(m)
    with pytest.raises(TypeError, match="trace= must be a Trace"):
        handlers.replay(m, trace={"x": 1})


def test_condition_observes_named_sites():
    tr = trace(handlers.condition(model, data={"x": torch.tensor(2.0)})).get_trace()
    assert tr.nodes["x"]["is_observed"] and tr.nodes["x"]["value"].item() == 2.0
    assert tr.stochastic_nodes == []


def test_condition_accepts_a_trace():
    source = trace(model).get_trace()
    tr = trace(handlers.condition(model, data=source)).get_trace()
    assert tr.nodes["x"]["value"] is source.nodes["x"]["value"]
    with pytest.raises(TypeError, match="data= must be a dict"):
        handlers.condition(model, data=[1])


def test_uncondition_samples_observed_sites():
    tr = trace(handlers.uncondition(model)).get_trace()
    y = tr.nodes["y"]
    assert not y["is_observed"] and y["infer"]["was_observed"]
    assert y["infer"]["obs"].item() == 0.5
    assert tr.stochastic_nodes == ["x", "y"]


@pytest.mark.parametrize(
    "kwargs, visible",
    [
        ({}, []),
        ({"hide": ["x"]}, ["y"]),
        ({"expose": ["x"]}, ["x"]),
        ({"hide_types": ["sample"]}, []),
        ({"expose_types": ["sample"]}, ["x", "y"]),
        ({"hide_fn": lambda msg: msg.is_observed}, ["x"]),
        ({"expose_fn": lambda msg: msg.is_observed}, ["y"]),
        ({"hide_all": False}, ["x", "y"]),
        ({"expose_all": True}, ["x", "y"]),
    ],
)
def test_block_selection(kwargs, visible):
    tr = trace(handlers.block(model, **kwargs)).get_trace()
    assert [n for n in tr if n != "_RETURN"] == visible


def test_block_still_runs_hidden_sites():
    x = handlers.block(model)()
    assert x.shape == ()
    with pytest.raises(ValueError, match="pass hide_fn or expose_fn, not both"):
        handlers.block(model, hide_fn=bool, expose_fn=bool)


def test_seed_reproducible_and_restores_outer_state():
    def draws():
        return torch.rand(2), random.random(), np.random.rand()

    seeded = handlers.seed(draws, rng_seed=123)
    first, second = seeded(), seeded()
    assert torch.equal(first[0], second[0]) and first[1:] == second[1:]
    torch.manual_seed(5)
    random.seed(5)
    np.random.seed(5)
    expected = draws()
    torch.manual_seed(5)
    random.seed(5)
    np.random.seed(5)
    with handlers.seed(rng_seed=0):
        torch.rand(10)
    after = draws()
    assert torch.equal(after[0], expected[0]) and after[1:] == expected[1:]


def test_seed_does_not_occupy_the_stack_and_checks_its_seed():
    with handlers.seed(rng_seed=1):
        assert ppl.get_stack() == []
    with pytest.raises(TypeError, match="rng_seed must be an int"):
        handlers.seed(rng_seed=1.5)


def test_set_rng_seed_reproducible():
    ppl.set_rng_seed(4)
    a = ppl.sample("x", Normal(0.0, 1.0))
    ppl.set_rng_seed(4)
    assert torch.equal(a, ppl.sample("x", Normal(0.0, 1.0)))
    # The same stream as torch.manual_seed, so seeds carry over from torch code.
    torch.manual_seed(4)
    assert torch.equal(a, Normal(0.0, 1.0).sample())


def test_scale_multiplies_and_nests():
    tr = trace(handlers.scale(handlers.scale(model, scale=2.0), scale=3.0)).get_trace()
    assert tr.nodes["y"]["scale"] == 6.0
    tr.compute_log_prob()
    y = tr.nodes["y"]
    assert torch.allclose(y["log_prob"], 6.0 * y["unscaled_log_prob"])
    with pytest.raises(ValueError, match="expected a positive scale, got -1.0"):
        handlers.scale(model, scale=-1.0)


def test_mask_zeroes_masked_entries_and_combines():
    def m():
        with ppl.plate("data", 3):
            ppl.sample("obs", Normal(0.0, 1.0), obs=torch.zeros(3))

    inner = torch.tensor([True, True, False])
    outer = torch.tensor([False, True, True])
    tr = trace(handlers.mask(handlers.mask(m, mask=inner), mask=outer)).get_trace()
    tr.compute_log_prob()
    log_prob = tr.nodes["obs"]["log_prob"]
    assert log_prob[0] == 0 and log_prob[2] == 0 and log_prob[1] < 0
    with pytest.raises(TypeError, match="expected a bool or a bool tensor, got torch.float32"):
        handlers.mask(m, mask=torch.ones(3))


def test_mask_false_gives_zero_gradient_even_for_nonfinite():
    loc = torch.tensor(0.0, requires_grad=True)

    def m():
        ppl.sample("obs", Normal(loc, 1.0), obs=torch.tensor(1.0))

    tr = trace(handlers.mask(m, mask=False)).get_trace()
    tr.log_prob_sum().backward()
    assert loc.grad is None or loc.grad.item() == 0.0


def test_substitute_sample_and_param_sites():
    def m():
        w = ppl.param("w", torch.tensor(1.0))
        return w + ppl.sample("x", Normal(0.0, 1.0))

    data = {"w": torch.tensor(10.0), "x": torch.tensor(1.0)}
    tr = trace(handlers.substitute(m, data=data)).get_trace()
    assert tr.nodes["_RETURN"]["value"].item() == 11.0
    assert not tr.nodes["x"]["is_observed"]
    by_fn = handlers.substitute(m, substitute_fn=lambda msg: torch.tensor(2.0))
    assert by_fn().item() == 4.0
    with pytest.raises(ValueError, match="exactly one of data= or substitute_fn="):
        handlers.substitute(m)


def test_do_intervenes_and_keeps_natural_draw():
    def m():
        x = ppl.sample("x", Normal(0.0, 1.0))
        return ppl.sample("y", Normal(x, 1e-3))

    tr = trace(handlers.do(m, data={"x": torch.tensor(100.0)})).get_trace()
    assert abs(tr.nodes["y"]["value"].item() - 100.0) < 0.1
    assert abs(tr.nodes["x"]["value"].item()) < 10  # the natural draw, not propagated
    assert "x__CF" not in tr


def test_broadcast_is_idempotent_inside_plates():
    def m():
        with ppl.plate("a", 2), ppl.plate("b", 3):
            return ppl.sample("x", Normal(0.0, 1.0))

    assert handlers.broadcast(m)().shape == (3, 2)


def test_infer_config_updates_infer():
    def config(msg):
        return {"enumerate": "parallel"} if msg.name == "x" else {}

    tr = trace(handlers.infer_config(model, config_fn=config)).get_trace()
    assert tr.nodes["x"]["infer"] == {"enumerate": "parallel"}
    assert tr.nodes["y"]["infer"] == {}


def test_lift_turns_params_into_samples_once():
    def m():
        a = ppl.param("w", torch.tensor(1.0))
        b = ppl.param("w")
        c = ppl.param("v", torch.tensor(2.0))
        return a, b, c

    tr = trace(handlers.lift(m, prior={"w": Normal(0.0, 1.0)})).get_trace()
    a, b, c = tr.nodes["_RETURN"]["value"]
    assert tr.nodes["w"]["type"] == "sample" and tr.nodes["v"]["type"] == "param"
    assert a is b and c.item() == 2.0
    all_lifted = trace(handlers.lift(m, prior=Normal(0.0, 1.0))).get_trace()
    assert all_lifted.stochastic_nodes == ["w", "v"]


def test_scope_prefixes_names_and_nests():
    def m():
        with ppl.plate("data", 2):
            ppl.sample("x", Normal(0.0, 1.0))
        ppl.param("w", torch.tensor(0.0))

    tr = trace(handlers.scope(handlers.scope(m, prefix="inner"), prefix="outer")).get_trace()
    assert [n for n in tr if n != "_RETURN"] == ["outer/inner/data", "outer/inner/x"] + [
        "outer/inner/w"
    ]
    assert tr.nodes["outer/inner/x"]["cond_indep_stack"][0].name == "outer/inner/data"


def test_scope_lets_a_model_run_twice():
    def two():
        handlers.scope(model, prefix="a")()
        handlers.scope(model, prefix="b")()

    assert trace(two).get_trace().stochastic_nodes == ["a/x", "b/x"]


def test_handlers_as_context_managers_and_decorators():
    @handlers.condition(data={"x": torch.tensor(1.0)})
    def m():
        return ppl.sample("x", Normal(0.0, 1.0))

    assert m().item() == 1.0
    with trace() as tracer, handlers.scale(scale=4.0):
        model()
    assert tracer.trace.nodes["x"]["scale"] == 4.0
