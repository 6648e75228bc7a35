"""The store owns a dense copy of every initial value (issue 20); torch modules stay shared."""

import pytest
import torch

import ppl
from distributions import Normal, constraints
from inference import SVI, Trace_ELBO
from inference.optim import Adam


def _model():
    with ppl.plate("d", 3):
        ppl.sample("z", Normal(0.0, 1.0))


def _guide():
    # As the user wrote it: an expanded view (one element in memory) as the init.
    loc = ppl.param("loc", torch.tensor(0.5).expand([3]))
    scale = ppl.param("scale", torch.tensor(1.0).expand([3]), constraint=constraints.positive)
    with ppl.plate("d", 3):
        ppl.sample("z", Normal(loc, scale))


def test_param_initialised_from_an_expanded_view_trains_with_adam():
    svi = SVI(_model, _guide, Adam({"lr": 0.1}), Trace_ELBO())
    for _ in range(3):
        svi.step()
    loc = ppl.param("loc").detach()
    # Each element got its own gradient from its own draw, so they moved apart
    # (one shared memory location would keep them equal, or make Adam raise).
    assert loc.shape == (3,) and len(set(loc.tolist())) == 3
    assert ppl.get_param_store().get_unconstrained("scale").is_contiguous()


@pytest.mark.parametrize(
    "init",
    [
        torch.tensor(0.5).expand([3]),
        torch.arange(6.0).reshape(2, 3).t(),  # a transposed view
        torch.arange(6.0)[::2],  # a strided slice
    ],
    ids=["expanded", "transposed", "strided"],
)
def test_views_become_dense_leaves_of_the_same_values(init):
    value = ppl.param("w", init)
    leaf = ppl.get_param_store().get_unconstrained("w")
    assert leaf.is_leaf and leaf.requires_grad and leaf.is_contiguous()
    assert torch.equal(value.detach(), init)


def test_the_callers_tensor_is_neither_shared_nor_changed():
    init = torch.zeros(3)
    leaf_init = torch.zeros(2, requires_grad=True)
    ppl.param("w", init)
    ppl.param("v", leaf_init)
    store = ppl.get_param_store()
    with torch.no_grad():
        store.get_unconstrained("w").add_(1.0)
        store.get_unconstrained("v").add_(1.0)
    assert init.tolist() == [0.0, 0.0, 0.0] and leaf_init.tolist() == [0.0, 0.0]


def test_setitem_and_set_state_also_copy():
    store = ppl.get_param_store()
    store["a"] = torch.tensor(2.0).expand([4])
    store.set_state(
        {"params": {"b": torch.tensor(1.0).expand([2])}, "constraints": {}, "event_dims": {}}
    )
    assert store.get_unconstrained("a").is_contiguous()
    assert store.get_unconstrained("b").is_contiguous()


def test_a_torch_module_parameter_stays_shared():
    layer = torch.nn.Linear(2, 1)
    ppl.module("layer", layer)
    assert ppl.get_param_store().get_unconstrained("layer$$$weight") is layer.weight
