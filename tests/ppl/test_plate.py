"""Plates: shapes, dim allocation, frames, sequential iteration, subsampling."""

import pytest
import torch

import ppl
from distributions import Normal
from ppl.handlers import replay, trace
from ppl.plate import CondIndepStackFrame, subsample_indices


def _frames(tr, name):
    return tr.nodes[name]["cond_indep_stack"]


def test_vectorized_plate_broadcasts_and_records_frame():
    def model():
        with ppl.plate("data", 4) as idx:
            assert idx.tolist() == [0, 1, 2, 3]
            return ppl.sample("x", Normal(0.0, 1.0))

    tr = trace(model).get_trace()
    assert tr.nodes["x"]["value"].shape == (4,)
    assert tr.nodes["x"]["fn"].batch_shape == (4,)
    assert _frames(tr, "x") == (CondIndepStackFrame("data", -1, 4, 4),)
    assert _frames(tr, "x")[0].vectorized


def test_nested_plates_allocate_dims_from_the_right():
    def model():
        with ppl.plate("outer", 3):
            with ppl.plate("inner", 2):
                return ppl.sample("x", Normal(0.0, 1.0))

    tr = trace(model).get_trace()
    assert tr.nodes["x"]["value"].shape == (2, 3)
    assert [(f.name, f.dim) for f in _frames(tr, "x")] == [("outer", -1), ("inner", -2)]


def test_explicit_dim_pads_batch_shape():
    with ppl.plate("p", 5, dim=-2):
        x = ppl.sample("x", Normal(torch.zeros(3), 1.0))
    assert x.shape == (5, 3)
    with ppl.plate("p", 5, dim=-3):
        assert ppl.sample("y", Normal(0.0, 1.0)).shape == (5, 1, 1)


def test_auto_dim_skips_dims_held_by_enclosing_plates():
    with ppl.plate("a", 2, dim=-1), ppl.plate("b", 3):
        x = ppl.sample("x", Normal(0.0, 1.0))
    assert x.shape == (3, 2)


def test_same_plate_object_reentered_keeps_indices():
    p = ppl.plate("data", 10, subsample_size=3)
    with p as first:
        a = ppl.sample("a", Normal(torch.zeros(3), 1.0))
    with p as second:
        b = ppl.sample("b", Normal(0.0, 1.0))
    assert torch.equal(first, second) and a.shape == b.shape == (3,)


def test_plate_name_reused_in_a_run_shares_indices():
    def model():
        with ppl.plate("data", 10, subsample_size=4) as a:
            pass
        with ppl.plate("data", 10, subsample_size=4) as b:
            pass
        return a, b

    a, b = trace(model)()
    assert torch.equal(a, b)


def test_sequential_plate_frames_and_values():
    def model():
        xs = []
        for i in ppl.plate("loop", 3):
            xs.append(ppl.sample(f"x_{i}", Normal(0.0, 1.0)))
        return xs

    tr = trace(model).get_trace()
    frames = [_frames(tr, f"x_{i}")[0] for i in range(3)]
    assert [f.counter for f in frames] == [0, 1, 2]
    assert all(not f.vectorized and f.dim is None for f in frames)
    assert len(set(frames)) == 3  # each iteration is its own independence frame
    assert ppl.get_stack() == []


def test_sequential_plate_break_leaves_clean_stack():
    for _ in ppl.plate("loop", 5):
        break
    assert ppl.get_stack() == []


def test_subsampling_scales_log_prob():
    data = torch.arange(10.0)

    def model():
        with ppl.plate("data", 10, subsample_size=4) as idx:
            ppl.sample("obs", Normal(0.0, 1.0), obs=data[idx])

    tr = trace(model).get_trace()
    site = tr.nodes["obs"]
    assert site["scale"] == 2.5
    tr.compute_log_prob()
    expected = 2.5 * Normal(0.0, 1.0).log_prob(site["value"]).sum()
    assert torch.allclose(site["log_prob_sum"], expected)


def test_sequential_subsampling_scales_log_prob():
    def model():
        for i in ppl.plate("loop", 6, subsample_size=2):
            ppl.sample(f"x_{i}", Normal(0.0, 1.0))

    tr = trace(model).get_trace()
    assert [tr.nodes[n]["scale"] for n in tr.stochastic_nodes] == [3.0, 3.0]


def test_explicit_subsample_and_replayed_indices():
    def model(subsample=None):
        with ppl.plate("data", 100, subsample_size=5, subsample=subsample) as idx:
            return idx

    chosen = torch.tensor([3, 1, 4, 1, 5])
    assert torch.equal(model(chosen), chosen)
    guide_trace = trace(model).get_trace()
    assert guide_trace.nodes["data"]["type"] == "plate"
    replayed = replay(model, trace=guide_trace)()
    assert torch.equal(replayed, guide_trace.nodes["data"]["value"])


def test_local_param_is_subsampled_along_plate_dim():
    def guide():
        with ppl.plate("data", 6, subsample_size=2) as idx:
            p = ppl.param("p", torch.arange(12.0).reshape(6, 2), event_dim=1)
        return idx, p

    idx, p = trace(guide)()
    assert p.shape == (2, 2)
    assert torch.equal(p, torch.arange(12.0).reshape(6, 2)[idx])
    assert ppl.param("p").shape == (6, 2)


def test_subsample_indices_are_distinct():
    idx = subsample_indices(50, 20)
    assert len(set(idx.tolist())) == 20 and idx.max() < 50


def test_plate_accepts_integer_tensor_sizes():
    with ppl.plate("data", torch.tensor(3)):
        assert ppl.sample("x", Normal(0.0, 1.0)).shape == (3,)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"size": 0}, "size must be a positive int, got 0"),
        ({"size": 2.5}, "size must be a positive int, got 2.5"),
        ({"size": 3, "subsample_size": 4}, "subsample_size must be between 1 and size=3"),
        ({"size": 3, "dim": 1}, "dim must be a negative int"),
        ({"size": 3, "subsample_size": 2, "subsample": [0]}, "1 subsample indices but"),
    ],
)
def test_plate_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ppl.plate("p", **kwargs)
