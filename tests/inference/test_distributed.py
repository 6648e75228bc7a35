"""Data-parallel SVI and Predictive on a real 2-process gloo group.

One group of two processes (``distributed_scripts/worker.py``) runs every
scenario once and saves what each rank saw; the tests below read those files
and compare them with single-process runs made here. The group is started
once per module with a hard timeout (the processes are killed, never left
hanging), because each process start costs seconds of imports.
"""

import importlib.util
import math
import os
import pathlib
import socket
import subprocess
import sys

import pytest
import torch

import ppl
from distributions import Normal
from inference import SVI, Predictive, Trace_ELBO
from inference.distributed import (
    DistributedPredictive,
    DistributedSVI,
    comm_device,
    default_backend,
    distinct_indices,
    rank_device,
    rank_seed,
    shard_plates,
    split_counts,
)
from inference.optim import Adam
from tests.inference.distributed_scripts import models

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Generous: process start and torch's first optimizer (it imports torch._dynamo)
# take seconds each on two busy cores.
GROUP_TIMEOUT_S = 240


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(out, world_size=2):
    port = str(_free_port())
    procs = []
    for rank in range(world_size):
        env = {
            **os.environ,
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
            "WORLD_SIZE": str(world_size),
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "PYTHONPATH": str(ROOT),
            "OMP_NUM_THREADS": "1",
        }
        log = open(out / f"rank{rank}.log", "w")
        cmd = [sys.executable, "-m", "tests.inference.distributed_scripts.worker", str(out)]
        procs.append((subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log), log))
    return procs


@pytest.fixture(scope="module")
def group(tmp_path_factory):
    out = tmp_path_factory.mktemp("distributed")
    procs = _launch(out)
    try:
        codes = [p.wait(timeout=GROUP_TIMEOUT_S) for p, _ in procs]
    except subprocess.TimeoutExpired:
        codes = None
    finally:
        for p, log in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            log.close()
    logs = "\n".join((out / f"rank{r}.log").read_text()[-3000:] for r in range(len(procs)))
    assert codes is not None, f"the 2-rank group did not finish in {GROUP_TIMEOUT_S} s:\n{logs}"
    # Rank 1 kills itself in the last scenario (exit code 3); rank 0 must finish cleanly.
    assert codes == [0, 3], f"exit codes {codes}:\n{logs}"
    return out


def _load(group, scenario):
    return [torch.load(group / f"{scenario}_rank{r}.pt", weights_only=False) for r in (0, 1)]


def _assert_same_params(a, b, atol=0.0):
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=atol, rtol=0.0, msg=name)


# ------------------------------------------------------------------ 2 ranks
def test_parameters_identical_on_both_ranks_after_20_steps(group):
    r0, r1 = _load(group, "identical")
    assert set(r0["params"]) == {"w_loc", "w_scale"}
    # Exact equality: the guide's init is random per rank, so only rank 0's
    # broadcast and identical all-reduced steps can make these agree.
    _assert_same_params(r0["params"], r1["params"])
    assert r0["losses"] == r1["losses"] and len(r0["losses"]) == 20
    # ... and the steps were applied (the scale started at 0.5 everywhere).
    assert (r0["params"]["w_scale"] - 0.5).abs().min() > 0.05


def test_subsampled_plates_draw_disjoint_indices_per_rank(group):
    r0, r1 = _load(group, "identical")
    for a, b in zip(r0["indices"], r1["indices"]):
        assert len(a) == len(b) == models.SUBSAMPLE and not set(a) & set(b)
    assert r0["indices"][0] != r0["indices"][1]  # a new subsample each epoch


def test_two_rank_gradient_equals_full_data_gradient(group):
    r0, r1 = _load(group, "gradient")
    optim = models.RecordingOptim()
    loss = SVI(models.map_model, models.map_guide, optim, Trace_ELBO()).step(models.GRAD_DATA)
    expected = optim.grads[0]
    for rank in (r0, r1):
        _assert_same_params(rank["grads"], expected, atol=1e-6)
        assert rank["loss"] == pytest.approx(loss, abs=1e-6)


def test_two_rank_subsampled_estimate_is_unbiased(group):
    r0, r1 = _load(group, "unbiased")
    exact = models.exact_conjugate_loss()
    for key in ("losses", "evaluated"):  # step() and evaluate_loss()
        assert torch.equal(r0[key], r1[key])
        losses = r0[key]
        z = (losses.mean() - exact) / (losses.std() / math.sqrt(len(losses)))
        # |z| < 4: false-alarm rate 6e-5 per check for an unbiased estimator
        # (CLT over 400 independent draws); the seed is fixed, so the outcome is
        # deterministic. Counting the data term twice (sum without the 1/W)
        # would shift the mean by about 17, i.e. z above 60.
        assert abs(z) < 4, (key, losses.mean().item(), exact)
        assert losses.std() > 0.1  # the subsampling is really random


def test_one_ranks_nan_makes_both_skip(group):
    r0, r1 = _load(group, "nonfinite")
    for rank in (r0, r1):
        assert rank["skipped"] == 1
        history = rank["history"]
        _assert_same_params(history[3], history[2])  # step index 3 changed nothing
        assert not torch.equal(history[4]["w_loc"], history[3]["w_loc"])
        assert "pass skip_nonfinite=True" in rank["error"]
    # The warning is a log line: rank 0 only.
    assert r1["warnings"] == [] and len(r0["warnings"]) == 1
    assert "skipped on every rank: non-finite loss or gradient on rank(s) [1]" in r0["warnings"][0]
    for a, b in zip(r0["history"], r1["history"]):
        _assert_same_params(a, b)


def test_one_rank_raising_stops_the_other_with_a_clear_error(group):
    r0, r1 = _load(group, "raise")
    assert r1["type"] == "ValueError" and "boom on rank 1" in r1["message"]
    assert r0["type"] == "DistributedStepError"
    assert "step 3 stopped on rank 0 because rank(s) [1] raised" in r0["message"]
    assert "ValueError: boom on rank 1" in r0["message"]
    assert r0["steps"] == r1["steps"] == 2
    _assert_same_params(r0["params"], r1["params"])


def test_a_dead_rank_ends_the_other_with_an_error_not_a_hang(group):
    [r0] = [torch.load(group / "dead_peer_rank0.pt", weights_only=False)]
    assert r0["type"] == "DistributedStepError"
    assert "the collective 'gradient all-reduce of step 2' failed" in r0["message"]
    assert "Another rank has probably died" in r0["message"]
    assert r0["seconds"] < 25  # the worker's process-group timeout is 20 s


def test_ranks_creating_different_params_get_a_table(group):
    r0, r1 = _load(group, "mismatch")
    for rank in (r0, r1):
        assert rank["type"] == "DistributedStepError"
        assert "the ranks' models and guides use different parameters" in rank["message"]
        assert "only_on_rank_1" in rank["message"]


def test_checkpoint_resumes_exactly_on_two_ranks(group):
    r0, r1 = _load(group, "checkpoint")
    for rank in (r0, r1):
        _assert_same_params(rank["resumed"], rank["continued"])
    _assert_same_params(r0["continued"], r1["continued"])


def test_checkpoint_from_two_ranks_resumes_on_one(group):
    [r0, _] = _load(group, "checkpoint")
    svi = DistributedSVI(
        models.map_model, models.map_guide, Adam({"lr": 0.1}), Trace_ELBO(), shard=["data"]
    )
    svi.load_checkpoint(group / "map.ckpt")
    assert svi.num_steps == 5
    for _ in range(5):
        svi.step(models.GRAD_DATA)
    here = {n: v.detach() for n, v in ppl.get_param_store().items()}
    # The MAP model is deterministic: one process continues as the two ranks did.
    _assert_same_params(here, r0["map"], atol=1e-6)


def test_predictive_splits_and_gathers_with_single_process_shapes(group):
    r0, r1 = _load(group, "predictive")
    single = Predictive(models.conjugate_model, num_samples=7)()
    for rank in (r0, r1):
        assert {n: v.shape for n, v in rank["draws"].items()} == {
            n: v.shape for n, v in single.items()
        }
        assert torch.equal(rank["replayed"]["z"], torch.arange(7.0))  # rank order kept
    assert torch.equal(r0["draws"]["z"], r1["draws"]["z"])  # gathered on both
    z = r0["draws"]["z"]
    # Rows 0-3 come from rank 0 and 4-6 from rank 1; the same stream on both
    # ranks would repeat the first three draws.
    assert not torch.equal(z[:3], z[4:7])


# ------------------------------------------------------------ one process
def test_shard_plates_blocks_cover_each_datum_once_and_correct_uneven_scales():
    def model():
        with ppl.plate("data", 7) as idx:
            ppl.sample("x", Normal(0.0, 1.0), obs=torch.zeros(len(idx)))
        return idx

    seen, scales = [], []
    for rank in (0, 1):
        with ppl.handlers.trace() as tr, shard_plates(shard="data", rank=rank, world_size=2):
            seen += model().tolist()
        scales.append(tr.trace.nodes["x"].scale)
    assert sorted(seen) == list(range(7))
    # Blocks of 4 and 3: the plates scale by 7/4 and 7/3, the correction makes
    # both W = 2, which the 1/W of the summed all-reduce turns into 1 per datum.
    assert scales == [pytest.approx(2.0), pytest.approx(2.0)]


def test_shard_plates_errors_name_the_plate_and_the_fix():
    def model():
        with ppl.plate("data", 5, subsample_size=3):
            pass

    with pytest.raises(ValueError, match=r"plate 'data': 2 ranks x subsample_size 3 = 6"):
        shard_plates(model, rank=0, world_size=2)()
    with pytest.raises(ValueError, match=r"use subsample_size <= 2"):
        shard_plates(model, rank=0, world_size=2)()

    def small():
        with ppl.plate("tiny", 1):
            pass

    with pytest.raises(ValueError, match=r"plate 'tiny': cannot shard 1 elements over 2 ranks"):
        shard_plates(small, shard=["tiny"], rank=0, world_size=2)()


@pytest.mark.parametrize("size", [20, 12])  # the stream path (4*4 <= 20) and the permutation
def test_distinct_indices_include_every_index_equally_often(size):
    count, draws = 4, 2000
    generator = torch.Generator().manual_seed(0)
    hits = torch.zeros(size)
    for _ in range(draws):
        drawn = distinct_indices(size, count, generator)
        assert drawn.unique().numel() == count
        hits[drawn] += 1
    p = count / size
    z = (hits - draws * p) / math.sqrt(draws * p * (1 - p))
    # Each index is in a uniform 4-subset with probability 4/size; max |z| over
    # the indices above 4.5 has false-alarm rate below 20 * 6.8e-6 = 1.4e-4.
    assert z.abs().max() < 4.5


def test_explicit_and_unsubsampled_plates_are_left_alone():
    def model():
        with ppl.plate("given", 5, subsample=torch.tensor([4, 1])) as a:
            pass
        with ppl.plate("full", 3) as b:
            pass
        return a.tolist(), b.tolist()

    assert shard_plates(model, rank=1, world_size=2)() == ([4, 1], [0, 1, 2])


def test_rank_seeds_are_distinct_and_reproducible():
    seeds = [rank_seed(11, r) for r in range(8)]
    assert len(set(seeds)) == 8 and seeds == [rank_seed(11, r) for r in range(8)]
    assert rank_seed(11, 0, epoch=1) != rank_seed(11, 0) != rank_seed(12, 0)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        rank_seed(-1, 0)


def test_device_and_backend_choice():
    assert default_backend(cuda_available=True) == "nccl"
    assert default_backend(cuda_available=False) == "gloo"
    assert rank_device(local_rank=3, cuda_available=True) == torch.device("cuda", 3)
    assert rank_device(local_rank=3, cuda_available=False) == torch.device("cpu")
    assert comm_device("nccl", torch.device("cuda", 3)) == torch.device("cuda", 3)
    assert comm_device("gloo", torch.device("cuda", 3)) == torch.device("cpu")


def test_gradient_bucket_is_built_on_the_rank_device():
    # No GPU here: the device path is checked on the meta device, which has
    # no data, so a stray CPU tensor in the bucket would raise.
    import inference.distributed.svi as svi_module

    grads = {"a": torch.ones(2, device="meta")}
    params = {"a": torch.zeros(2, device="meta", requires_grad=True)}
    params["a"].grad = grads["a"]
    layout = svi_module._layout_of(params)
    bucket = svi_module._pack(0, 2, None, False, 1.0, params, layout, torch.device("meta"))
    assert bucket.device.type == "meta" and bucket.shape == (2 * 2 + 2 + 1 + 2,)


def test_split_counts_and_too_few_samples(monkeypatch):
    assert split_counts(7, 2) == [4, 3] and split_counts(4, 4) == [1, 1, 1, 1]
    import inference.distributed.predictive as predictive_module

    monkeypatch.setattr(predictive_module, "get_world_size", lambda: 4)
    with pytest.raises(ValueError, match=r"3 samples cannot be split over 4 ranks"):
        DistributedPredictive(models.conjugate_model, num_samples=3)


def test_one_process_distributed_svi_matches_svi():
    optim = models.RecordingOptim()
    DistributedSVI(models.map_model, models.map_guide, optim, Trace_ELBO()).step(models.GRAD_DATA)
    ppl.clear_param_store()
    reference = models.RecordingOptim()
    SVI(models.map_model, models.map_guide, reference, Trace_ELBO()).step(models.GRAD_DATA)
    _assert_same_params(optim.grads[0], reference.grads[0], atol=1e-12)


# ------------------------------------------------------------------ example
def _example():
    spec = importlib.util.spec_from_file_location(
        "example_distributed_svi", ROOT / "examples" / "distributed_svi.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_fits_the_true_weights_as_one_process(capsys):
    result = _example().main(["--num-steps", "300", "--num-data", "20000", "--num-samples", "50"])
    # The posterior sd is about 0.02 at 20000 points; 300 noisy Adam steps leave
    # errors near 0.1 (seeded, so this run is deterministic); an unfitted
    # model would be off by up to 1.5.
    assert (result["w"] - result["true_w"]).abs().max() < 0.3
    assert abs(result["b"] - result["true_b"]) < 0.3
    out = capsys.readouterr().out
    assert "parameters identical across ranks: True" in out and "1 rank(s)" in out


def test_example_on_two_ranks_fits_and_reports_identical_parameters(group):
    r0, r1 = _load(group, "example")
    for rank in (r0, r1):
        assert rank["world_size"] == 2 and rank["identical"] is True
        # Same tolerance argument as the one-process run, with twice the data per step.
        assert (rank["w"] - rank["true_w"]).abs().max() < 0.3
        assert abs(rank["b"] - rank["true_b"]) < 0.3
    assert "parameters identical across ranks: True" in r0["stdout"]
    assert "2 rank(s), 200 steps" in r0["stdout"]
    assert r1["stdout"] == ""  # only rank 0 prints


def test_example_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        _example().parse_args(["--help"])
    assert "--num-steps NUM_STEPS" in capsys.readouterr().out


@pytest.mark.slow
def test_example_under_torchrun_reports_identical_parameters(tmp_path):
    cmd = [
        str(pathlib.Path(sys.executable).with_name("torchrun")),
        "--standalone",
        "--nproc_per_node=2",
        str(ROOT / "examples" / "distributed_svi.py"),
        *("--num-steps", "50", "--num-data", "5000", "--num-samples", "10"),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 rank(s), 50 steps" in done.stdout
    assert "parameters identical across ranks: True" in done.stdout


def test_benchmark_scaling_model():
    from benchmarks.bench_distributed import model_scaling, ring_bytes

    assert ring_bytes(100, 1) == 0 and ring_bytes(100, 4) == 150
    # 1 MB over 1 GB/s on two nodes: each sends 2 (W-1)/W = 1 bucket, 1 ms.
    assert model_scaling(0.0, 1e6, 2, bandwidth=1e9, latency=0.0) == pytest.approx(1e-3)
    # Three nodes, nothing to send: 2 (W-1) = 4 latencies on top of the compute.
    assert model_scaling(2e-3, 0, 3, latency=1e-5) == pytest.approx(2e-3 + 4e-5)
