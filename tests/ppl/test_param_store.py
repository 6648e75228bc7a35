"""Parameter store: constraints, the optimizer's view, state, save/load, scopes."""

import os

import pytest
import torch

import ppl
from distributions import constraints
from ppl import ParamStore, param_store_scope


def test_constrained_storage_and_optimizer_view():
    store = ppl.get_param_store()
    value = ppl.param("s", torch.tensor([1.0, 2.0]), constraint=constraints.positive)
    assert torch.allclose(value, torch.tensor([1.0, 2.0]))
    (name, leaf), *_ = store.named_parameters()
    assert name == "s" and leaf.is_leaf and leaf.requires_grad
    assert torch.allclose(leaf, torch.tensor([1.0, 2.0]).log())
    assert dict(store.items())["s"] is not leaf
    assert store.get_constraint("s") is constraints.positive
    assert torch.allclose(ppl.param("s"), value)  # read without init_value


def test_param_gradients_reach_the_unconstrained_leaf():
    ppl.param("s", torch.tensor(2.0), constraint=constraints.positive).backward()
    leaf = ppl.get_param_store().get_unconstrained("s")
    assert torch.allclose(leaf.grad, torch.tensor(2.0))  # d exp(u) / du at u = log 2


def test_init_value_is_ignored_once_stored_and_callable_init_is_lazy():
    calls = []

    def init():
        calls.append(1)
        return torch.tensor(3.0)

    assert ppl.param("a", init).item() == 3.0
    assert ppl.param("a", init).item() == 3.0
    assert calls == [1]


def test_missing_param_without_init_is_an_error():
    with pytest.raises(KeyError, match="param 'nope' is not in the parameter store"):
        ppl.param("nope")


def test_simplex_init_normalizes_nonnegative_weights():
    value = ppl.param("q", torch.tensor([1.0, 1.0, 2.0]), constraint=constraints.simplex)
    assert torch.allclose(value, torch.tensor([0.25, 0.25, 0.5]), atol=1e-6)


def test_interval_constraint_roundtrip():
    c = constraints.interval(-1.0, 3.0)
    assert torch.allclose(ppl.param("b", torch.tensor(2.5), constraint=c), torch.tensor(2.5))


def test_mapping_interface_and_clear():
    store = ParamStore()
    store["w"] = torch.tensor(1.0)
    assert "w" in store and len(store) == 1 and list(store) == ["w"] and store.keys() == ["w"]
    assert store.values()[0].item() == 1.0
    del store["w"]
    assert len(store) == 0
    store["v"] = torch.tensor(2.0)
    store.clear()
    assert len(store) == 0


def test_get_state_set_state_roundtrip():
    ppl.param("s", torch.tensor(2.0), constraint=constraints.positive, event_dim=0)
    state = ppl.get_param_store().get_state()
    other = ParamStore()
    other.set_state(state)
    assert torch.allclose(other["s"], torch.tensor(2.0))
    assert other.get_constraint("s") is constraints.positive
    assert other.get_event_dim("s") == 0


def test_save_load_roundtrip_with_extra(tmp_path):
    ppl.param("s", torch.tensor([2.0, 3.0]), constraint=constraints.positive)
    ppl.param("b", torch.tensor(0.5), constraint=constraints.interval(0.0, 2.0))
    path = tmp_path / "params.pt"
    ppl.get_param_store().save(path, extra={"optim": {"step": 3, "lr": torch.tensor(0.1)}})
    assert os.listdir(tmp_path) == ["params.pt"]  # no temp file left behind
    ppl.clear_param_store()
    extra = ppl.get_param_store().load(path)
    assert extra["optim"]["step"] == 3
    assert torch.allclose(ppl.param("s"), torch.tensor([2.0, 3.0]))
    assert torch.allclose(ppl.param("b"), torch.tensor(0.5))
    assert ppl.get_param_store().get_constraint("b").upper_bound == 2.0
    assert ppl.get_param_store().get_unconstrained("s").requires_grad


def test_save_refuses_extra_that_is_not_plain_data(tmp_path):
    ppl.param("w", torch.tensor(1.0))
    with pytest.raises(
        ValueError, match=r"extra\['optim'\]\[1\] is a builtin_function_or_method; only tensors"
    ):
        ppl.get_param_store().save(tmp_path / "p.pt", extra={"optim": [1, len]})
    assert os.listdir(tmp_path) == []


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "params.pt"
    ppl.param("w", torch.tensor(1.0))
    ppl.get_param_store().save(path)
    before = path.read_bytes()

    def broken_save(obj, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        ppl.get_param_store().save(path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["params.pt"]


class _Payload:
    # Unpickling this would call os.mkdir on the marked path: proof of code execution.
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_load_refuses_files_that_would_run_code(tmp_path):
    marker = str(tmp_path / "was_executed")
    path = tmp_path / "evil.pt"
    torch.save({"format": "ppl.param_store", "params": _Payload(marker)}, path)
    with pytest.raises(
        ValueError,
        match=r"refusing to load .* torch.load\(weights_only=True\) rejected it \(Unpickling",
    ):
        ppl.get_param_store().load(path)
    assert not os.path.exists(marker)


def test_load_refuses_foreign_files(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a torch file at all")
    with pytest.raises(ValueError, match="refusing to load"):
        ppl.get_param_store().load(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weight": torch.zeros(2)}, foreign)
    with pytest.raises(ValueError, match="is not a parameter store file"):
        ppl.get_param_store().load(foreign)


def test_load_refuses_tampered_tables(tmp_path):
    ppl.param("s", torch.tensor(1.0), constraint=constraints.positive)
    path = tmp_path / "params.pt"
    ppl.get_param_store().save(path)
    payload = torch.load(path, weights_only=True)
    # A version-1 payload (written before the checksum), so the tables' own checks run.
    del payload["checksum"]
    payload["version"] = 1
    payload["constraints"]["s"] = {"class": "Tensor", "attrs": {}}
    torch.save(payload, path)
    with pytest.raises(ValueError, match="unknown constraint class 'Tensor'"):
        ParamStore().load(path)
    payload["constraints"]["s"] = {"name": "positive"}
    payload["params"]["s"] = "not a tensor"
    torch.save(payload, path)
    with pytest.raises(ValueError, match="the params table must map names to tensors"):
        ParamStore().load(path)
    payload["version"] = 99
    torch.save(payload, path)
    with pytest.raises(ValueError, match="parameter store of version 99"):
        ParamStore().load(path)


def test_scoped_stores_are_separate():
    ppl.param("w", torch.tensor(1.0))
    with param_store_scope() as inner:
        ppl.param("w", torch.tensor(5.0))
        assert ppl.get_param_store() is inner
        with param_store_scope(inner):
            assert ppl.param("w").item() == 5.0
    assert ppl.param("w").item() == 1.0 and inner["w"].item() == 5.0
    with pytest.raises(TypeError, match="expects a ParamStore"):
        with param_store_scope({}):
            pass


def test_module_registers_and_shares_parameters():
    lin = torch.nn.Linear(2, 1)
    assert ppl.module("lin", lin) is lin
    store = ppl.get_param_store()
    assert store.get_unconstrained("lin$$$weight") is lin.weight
    with torch.no_grad():
        store.get_unconstrained("lin$$$bias").fill_(4.0)
    assert lin.bias.item() == 4.0


def test_module_update_from_loaded_values(tmp_path):
    lin = torch.nn.Linear(1, 1)
    ppl.module("lin", lin)
    with torch.no_grad():
        lin.weight.fill_(7.0)
    ppl.get_param_store().save(tmp_path / "p.pt")
    ppl.clear_param_store()
    ppl.get_param_store().load(tmp_path / "p.pt")
    fresh = torch.nn.Linear(1, 1)
    ppl.module("lin", fresh, update_module_params=True)
    assert fresh.weight.item() == 7.0
    assert ppl.get_param_store().get_unconstrained("lin$$$weight") is fresh.weight


@pytest.mark.parametrize(
    "constraint, init",
    [
        (constraints.positive, torch.tensor([0.5, 2.0])),
        (constraints.interval(-1.0, 3.0), torch.tensor([0.0, 2.5])),
        (constraints.greater_than(1.5), torch.tensor([2.0, 4.0])),
        (constraints.simplex, torch.tensor([0.2, 0.3, 0.5])),
        (constraints.lower_cholesky, torch.tensor([[1.0, 0.0], [0.5, 2.0]])),
        (constraints.independent(constraints.positive, 1), torch.tensor([1.0, 3.0])),
    ],
)
def test_reads_apply_the_registry_transform_after_in_place_updates(constraint, init):
    # The store binds each parameter's transform when it is stored; a read must
    # still equal transform_to(constraint) of the leaf as the optimizer left it.
    from distributions import transform_to

    store = ParamStore()
    store.get_param("p", init, constraint=constraint)
    assert torch.allclose(store["p"], init, atol=1e-6)
    leaf = store.get_unconstrained("p")
    with torch.no_grad():
        leaf.add_(0.25)  # what an optimizer step does
    assert torch.equal(store["p"], transform_to(constraint)(leaf))
    store.set_state(store.get_state())  # bound again for the snapshot's leaf
    assert torch.equal(store["p"], transform_to(constraint)(store.get_unconstrained("p")))


def test_a_caching_transform_is_built_per_read_so_updates_are_seen():
    # A transform with a one-slot cache keys on the leaf, which an optimizer
    # updates in place: one kept across reads would return the stale value.
    from distributions import transform_to
    from distributions.transforms import ExpTransform

    class _Positive2(constraints.Constraint):
        def check(self, value):
            return value > 0

    positive2 = _Positive2()
    transform_to.register(_Positive2, lambda c: ExpTransform(cache_size=1))
    store = ParamStore()
    assert torch.allclose(
        store.get_param("p", torch.tensor(1.0), constraint=positive2), torch.tensor(1.0)
    )
    with torch.no_grad():
        store.get_unconstrained("p").add_(1.0)
    assert torch.allclose(store["p"], torch.tensor(1.0).exp())
