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


def test_plate_stack_gives_contiguous_plates_named_from_the_right():
    def model():
        with ppl.plate_stack("cell", (2, 3)):
            return ppl.sample("x", Normal(0.0, 1.0))

    tr = trace(model).get_trace()
    assert tr.nodes["x"]["value"].shape == (2, 3)
    # Entered rightmost first (as Pyro does), so cell_0 is the outer frame.
    assert _frames(tr, "x") == (
        CondIndepStackFrame("cell_0", -1, 3, 3),
        CondIndepStackFrame("cell_1", -2, 2, 2),
    )
    tr.compute_log_prob()
    assert tr.nodes["x"]["log_prob"].shape == (2, 3)


def test_plate_stack_with_rightmost_dim_leaves_event_dims_free():
    def model():
        with ppl.plate_stack("batch", torch.Size([4, 5]), rightmost_dim=-2):
            with ppl.plate("inner", 3):
                return ppl.sample("x", Normal(0.0, 1.0))

    tr = trace(model).get_trace()
    assert tr.nodes["x"]["value"].shape == (4, 5, 3)
    assert [(f.name, f.dim) for f in _frames(tr, "x")] == [
        ("batch_0", -2),
        ("batch_1", -3),
        ("inner", -1),
    ]
    assert ppl.get_stack() == []


def test_plate_stack_refuses_a_non_negative_rightmost_dim():
    with pytest.raises(ValueError, match="plate_stack 'p': rightmost_dim must be a negative int"):
        with ppl.plate_stack("p", (2,), rightmost_dim=0):
            pass


def test_plate_without_size_takes_the_subsample_as_the_whole_plate():
    data = torch.arange(10.0)
    idx = torch.tensor([1, 5, 7])

    def model(ind):
        with ppl.plate("data", subsample=ind) as i:
            return ppl.sample("obs", Normal(0.0, 1.0), obs=data[i])

    tr = trace(model).get_trace(idx)
    site = tr.nodes["obs"]
    assert torch.equal(site["value"], data[idx])
    assert _frames(tr, "obs") == (CondIndepStackFrame("data", -1, 3, 3),)
    assert site["scale"] == 1.0
    assert torch.equal(tr.nodes["data"]["value"], idx)


def test_plate_without_size_or_subsample_says_what_to_pass():
    with pytest.raises(ValueError, match="plate 'data': no size given; pass size=N"):
        ppl.plate("data")


def test_plate_accepts_pyros_device_arguments():
    with ppl.plate("d", 4, device="meta") as idx:
        assert idx.device.type == "meta"
    with ppl.plate("d", 4, subsample_size=2, use_cuda=False) as idx:
        assert idx.device.type == "cpu" and idx.shape == (2,)
    with trace() as tr:
        with ppl.plate("d", 4, device="meta"):
            pass
    assert tr.trace.nodes["d"]["value"].device.type == "meta"
    with pytest.raises(ValueError, match="plate 'd': use_cuda=True contradicts device='cpu'"):
        ppl.plate("d", 4, use_cuda=True, device="cpu")
