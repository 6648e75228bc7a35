"""Handlers as decorators, written as a Pyro user writes them (issue 17).

A handler decorating a method keeps ``self``; one handler instance decorating
two functions runs each its own; a non-callable where a model belongs is a
``ValueError`` (as in Pyro) that is also a ``TypeError``.
"""

import inspect

import pytest
import torch

import ppl
from distributions import Normal
from ppl import handlers
from ppl.handlers import trace


class Regression:
    """A model written as a class, with a handler on each method (as Pyro users do)."""

    def __init__(self, loc):
        self.loc = loc

    @handlers.block
    def hidden(self):
        return ppl.sample("a", Normal(self.loc, 1.0))

    @handlers.block(hide=["a"])
    def partly_hidden(self):
        ppl.sample("a", Normal(self.loc, 1.0))
        return ppl.sample("b", Normal(self.loc, 1.0))

    @handlers.scale(scale=2.0)
    def scaled(self, data):
        return ppl.sample("obs", Normal(self.loc, 1.0), obs=data)

    @handlers.condition(data={"z": torch.tensor(0.25)})
    def conditioned(self):
        return ppl.sample("z", Normal(self.loc, 1.0))


def test_block_on_a_method_keeps_self():
    model = Regression(loc=3.0)
    tr = trace(model.hidden).get_trace()
    assert tr.stochastic_nodes == []
    assert list(trace(model.partly_hidden).get_trace().stochastic_nodes) == ["b"]


def test_scale_and_condition_on_methods_keep_self_and_their_effect():
    model = Regression(loc=3.0)
    tr = trace(model.scaled).get_trace(torch.tensor(1.0))
    assert tr.nodes["obs"]["scale"] == 2.0
    expected = 2.0 * Normal(3.0, 1.0).log_prob(torch.tensor(1.0))
    assert tr.log_prob_sum().item() == pytest.approx(expected.item())
    tr = trace(model.conditioned).get_trace()
    assert tr.nodes["z"]["is_observed"] and tr.nodes["z"]["value"].item() == 0.25


def test_handler_built_with_the_method_binds_as_a_method():
    class Model:
        def __init__(self):
            self.loc = torch.tensor(5.0)

        def _model(self):
            return ppl.sample("x", Normal(self.loc, 1e-3))

        model = handlers.substitute(_model, data={"x": torch.tensor(-1.0)})
        traced = trace(_model)

    m = Model()
    assert m.model().item() == -1.0
    assert abs(m.traced().item() - 5.0) < 0.1  # 100 sigma: cannot fail by chance
    assert Model.model.fn is Model._model  # on the class: the handler itself


def _models():
    def first():
        return ppl.sample("first", Normal(0.0, 1.0))

    def second():
        return ppl.sample("second", Normal(0.0, 1.0))

    return first, second


def test_one_handler_instance_decorating_two_functions_runs_each_its_own():
    first, second = _models()
    double = handlers.scale(scale=2.0)
    first, second = double(first), double(second)
    assert list(trace(first).get_trace().stochastic_nodes) == ["first"]
    tr = trace(second).get_trace()
    assert list(tr.stochastic_nodes) == ["second"] and tr.nodes["second"]["scale"] == 2.0


def test_one_trace_instance_as_a_decorator_records_the_latest_call():
    first, second = _models()
    tracer = trace()
    first, second = tracer(first), tracer(second)
    first()
    assert list(tracer.trace.nodes) == ["first", "_RETURN"]
    second()
    assert list(tracer.trace.nodes) == ["second", "_RETURN"]


def test_decorated_function_keeps_its_name_doc_and_signature():
    @handlers.mask(mask=False)
    def model(data, scale=1.0):
        """Scores data."""
        return ppl.sample("obs", Normal(0.0, scale), obs=data)

    assert model.__name__ == "model" and model.__doc__ == "Scores data."
    assert list(inspect.signature(model).parameters) == ["data", "scale"]
    tr = trace(model).get_trace(torch.tensor(0.5), scale=2.0)
    assert tr.nodes["obs"]["mask"] is False


# Every handler of ppl.handlers with the arguments it needs, checked as a method
# decorator both ways Pyro users write it: @handler(...) and @handler (bare, when
# it takes no required argument).
_ARGS = {
    "block": {},
    "broadcast": {},
    "condition": {"data": {}},
    "do": {"data": {}},
    "infer_config": {"config_fn": lambda msg: {}},
    "lift": {"prior": {}},
    "mask": {"mask": True},
    "replay": {"params": {}},
    "scale": {"scale": 1.0},
    "scope": {"prefix": "s"},
    "seed": {"rng_seed": 0},
    "substitute": {"data": {}},
    "trace": {},
    "uncondition": {},
}


@pytest.mark.parametrize("name", sorted(_ARGS))
def test_every_handler_decorates_a_method(name):
    handler = getattr(handlers, name)

    class Model:
        offset = 10.0

        @handler(**_ARGS[name])
        def model(self, x):
            return x + self.offset

        def _plain(self, x):
            return x + self.offset

        wrapped = handler(_plain, **_ARGS[name])

    assert Model().model(1.0) == 11.0
    assert Model().wrapped(1.0) == 11.0
    if not _ARGS[name]:  # needs no argument: also usable bare, `@handler`
        Model.bare = handler(Model._plain)
        assert Model().bare(2.0) == 12.0


def test_mask_false_where_the_model_belongs_is_a_value_error():
    # Pyro: "False is not callable, did you mean to pass it as a keyword arg?"
    with pytest.raises(ValueError, match=r"mask: expected a callable model, got bool False; "):
        handlers.mask(False)
    with pytest.raises(TypeError, match=r"did you mean to pass it as a keyword argument"):
        handlers.mask(False)
    with pytest.raises(ValueError, match=r"\(e\.g\. scale\(scale=2\.0\)\)\?"):
        handlers.scale(2.0)


def test_decorating_a_non_callable_is_a_value_error():
    masked = handlers.mask(mask=False)
    with pytest.raises(ValueError, match=r"mask: expected a callable model, got int 5"):
        masked(5)
    with pytest.raises(TypeError, match="has no function to run"):
        masked(1, 2)
