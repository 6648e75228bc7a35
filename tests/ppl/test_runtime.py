"""The message record, the handler stack and the three phases of apply_stack."""

import warnings

import pytest
import torch

import ppl
from distributions import Normal
from ppl import runtime
from ppl.runtime import Message, Messenger, apply_stack, get_stack


class _Log(Messenger):
    # Appends (tag, phase, type) to a shared list for every message it sees.
    def __init__(self, tag, log, stop=False):
        super().__init__()
        self.tag, self.log, self.stop = tag, log, stop

    def process_message(self, msg):
        self.log.append((self.tag, "process"))
        msg.stop = msg.stop or self.stop

    def postprocess_message(self, msg):
        self.log.append((self.tag, "postprocess"))


def _plate_msg(value=None):
    return Message(type="plate", name="p", fn=lambda: "default", value=value)


def test_message_dict_access_and_lazy_fields():
    msg = Message(type="sample", name="x", value=torch.tensor(1.0))
    assert msg["name"] == "x" and msg.get("infer") == {}
    assert "value" in msg and "log_prob" not in msg
    assert msg.get("log_prob", "absent") == "absent"
    msg["log_prob"] = torch.tensor(0.0)
    assert "log_prob" in msg and "log_prob" in msg.keys()
    with pytest.raises(KeyError, match="put extra information in msg.infer"):
        msg["extra"] = 1
    with pytest.raises(KeyError, match="Message has no field 'extra'"):
        msg["extra"]


def test_message_is_a_closed_record():
    msg = Message(type="sample", name="x")
    with pytest.raises(AttributeError):
        msg.something_else = 1


def test_message_copy_has_its_own_dicts():
    msg = Message(type="sample", name="x", infer={"a": 1})
    new = msg.copy()
    new.infer["b"] = 2
    assert msg.infer == {"a": 1} and new.name == "x"


def test_apply_stack_phases_order():
    log = []
    with _Log("outer", log), _Log("inner", log):
        msg = apply_stack(_plate_msg())
    assert msg.value == "default" and msg.done
    assert log == [
        ("inner", "process"),
        ("outer", "process"),
        ("outer", "postprocess"),
        ("inner", "postprocess"),
    ]


def test_stop_hides_message_from_outer_handlers():
    log = []
    with _Log("outer", log), _Log("inner", log, stop=True):
        msg = apply_stack(_plate_msg())
    assert msg.value == "default"
    assert log == [("inner", "process"), ("inner", "postprocess")]


def test_preset_value_skips_default_and_continuation_runs():
    seen = []
    msg = _plate_msg(value="preset")
    msg.continuation = lambda m: seen.append(m.value)
    apply_stack(msg)
    assert msg.value == "preset" and seen == ["preset"]


def test_dispatch_by_method_name():
    class only_params(Messenger):
        def _process_param(self, msg):
            msg.value = "handled"

    with only_params():
        assert apply_stack(_plate_msg()).value == "default"
        param_msg = Message(type="param", name="w", fn=lambda: "store")
        assert apply_stack(param_msg).value == "handled"


def test_an_override_of_process_message_may_chain_to_the_method_dispatch():
    # Pyro-style handlers override process_message and call super() for the
    # _process_<type> methods: each message reaches both, once.
    seen = []

    class chained(Messenger):
        def process_message(self, msg):
            seen.append(("override", msg.type))
            super().process_message(msg)

        def _process_param(self, msg):
            seen.append(("method", msg.type))

    with chained():
        apply_stack(_plate_msg())
        apply_stack(Message(type="param", name="w", fn=lambda: "store"))
    assert seen == [("override", "plate"), ("override", "param"), ("method", "param")]


def test_messenger_as_decorator_and_wrapper():
    log = []

    @_Log("deco", log)
    def f(x):
        return x + len(get_stack())

    assert f(1) == 2 and get_stack() == []
    with pytest.raises(TypeError, match="has no function to run"):
        Messenger()(1, 2)
    with pytest.raises(TypeError, match="expected a callable model"):
        Messenger(3)


def test_stack_is_cleaned_after_an_error():
    outer = Messenger()
    with pytest.raises(ZeroDivisionError):
        with outer:
            Messenger().__enter__()  # never exited
            1 / 0
    assert get_stack() == []


def test_sample_fast_path_does_not_build_messages(monkeypatch):
    def fail(msg):
        raise AssertionError("apply_stack called without handlers")

    monkeypatch.setattr(runtime, "apply_stack", fail)
    monkeypatch.setattr(ppl.primitives, "apply_stack", fail)
    loc = torch.tensor(0.0, requires_grad=True)
    x = ppl.sample("x", Normal(loc, 1.0))
    x.backward()
    assert loc.grad.item() == 1.0  # reparameterized draw
    with warnings.catch_warnings():
        # An observed site outside any handler may warn that it goes unscored.
        warnings.simplefilter("ignore", RuntimeWarning)
        assert ppl.sample("y", Normal(0.0, 1.0), obs=torch.tensor(2.0)).item() == 2.0


def test_the_global_entered_count_returns_to_empty():
    # The hot path trusts an empty count to mean "no handler in any thread".
    outer = Messenger()
    with pytest.raises(ZeroDivisionError):
        with outer:
            with Messenger():
                Messenger().__enter__()  # never exited
                assert len(runtime._ENTERED) == 3 and len(get_stack()) == 3
                1 / 0
    assert runtime._ENTERED == [] and get_stack() == []
    assert runtime._current_stack() == ()


def test_log_prob_sum_is_summed_on_first_read_in_the_grad_mode_of_the_log_prob():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    msg = Message(type="sample", name="x", value=x)
    assert "log_prob_sum" not in msg and msg.log_prob_sum is None
    msg.set_log_prob(x * 1.0, x * 2.0)
    assert "log_prob_sum" in msg and "log_prob_sum" in msg.keys()
    with torch.no_grad():  # read later, in another mode: still the graph of the log-prob
        total = msg["log_prob_sum"]
    assert total.item() == 6.0 and total.requires_grad
    assert msg.log_prob_sum is total  # summed once
    copied = msg.copy()
    assert copied.log_prob_sum is total and "log_prob_sum" in copied.keys()
    with torch.no_grad():
        msg.set_log_prob(x * 1.0, x * 3.0)
    assert msg.log_prob_sum.item() == 9.0 and not msg.log_prob_sum.requires_grad
