"""One rank of the distributed test group: runs every scenario, saves what it saw.

Started twice by ``tests/inference/test_distributed.py`` with torchrun's
environment variables (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
``MASTER_PORT``). Each scenario writes ``<out>/<scenario>_rank<r>.pt``; the
last one kills rank 1 to check that rank 0 stops instead of hanging.
"""

import contextlib
import importlib.util
import io
import os
import pathlib
import sys
import time
import warnings

import torch

import ppl
from inference import NonFiniteLossError, Trace_ELBO
from inference.distributed import (
    DistributedPredictive,
    DistributedSVI,
    init_distributed,
    shard_plates,
)
from inference.optim import Adam
from tests.inference.distributed_scripts import models

OUT = sys.argv[1]
RANK = int(os.environ["RANK"])


def save(name, value):
    torch.save(value, os.path.join(OUT, f"{name}_rank{RANK}.pt"))


def params():
    return {n: v.detach().clone() for n, v in ppl.get_param_store().items()}


def regression_data():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 3, generator=g)
    return x, x @ torch.tensor([1.0, -2.0, 0.5]) + 0.5 * torch.randn(64, generator=g)


def regression_svi(**kwargs):
    x, y = regression_data()
    optim = Adam({"lr": 0.05})
    return DistributedSVI(
        models.regression_model, models.regression_guide, optim, Trace_ELBO(), x=x, y=y, **kwargs
    )


def scenario_identical():
    ppl.clear_param_store()
    svi = regression_svi(seed=3, subsample_size=8)
    losses = [svi.step() for _ in range(20)]
    indices = []
    for epoch in range(5):
        with ppl.handlers.trace() as tr, shard_plates(seed=3, epoch=epoch):
            models.conjugate_model()
        indices.append(tr.trace.nodes["data"].value.tolist())
    save("identical", {"params": params(), "losses": losses, "indices": indices})


def scenario_gradient():
    ppl.clear_param_store()
    optim = models.RecordingOptim()
    svi = DistributedSVI(
        models.map_model, models.map_guide, optim, Trace_ELBO(), shard=["data"], seed=0
    )
    loss = svi.step(models.GRAD_DATA)
    save("gradient", {"grads": optim.grads[0], "loss": loss})


def scenario_unbiased(num_draws=400):
    ppl.clear_param_store()
    svi = DistributedSVI(
        models.conjugate_model, models.conjugate_guide, lambda p: None, Trace_ELBO(), seed=5
    )
    losses = [svi.step() for _ in range(num_draws)]
    evaluated = [svi.evaluate_loss() for _ in range(num_draws)]
    save(
        "unbiased",
        {
            "losses": torch.tensor(losses, dtype=torch.float64),
            "evaluated": torch.tensor(evaluated, dtype=torch.float64),
        },
    )


def nan_model(x, y, subsample_size, bad_step, step):
    models.regression_model(x, y, subsample_size)
    if RANK == 1 and step == bad_step:
        with ppl.validation_enabled(False):  # a NaN log-density, not a validation error
            ppl.factor("bad", torch.tensor(float("nan")))


def nan_guide(x, y, subsample_size, bad_step, step):
    models.regression_guide(x, y, subsample_size)


def scenario_nonfinite():
    ppl.clear_param_store()
    x, y = regression_data()
    svi = DistributedSVI(
        nan_model, nan_guide, Adam({"lr": 0.05}), Trace_ELBO(), skip_nonfinite=True, seed=1
    )
    history, caught = [], []
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for step in range(5):
            svi.step(x, y, 8, 3, step)
            history.append(params())
    caught = [str(w.message) for w in seen]
    strict = DistributedSVI(nan_model, nan_guide, Adam({"lr": 0.05}), Trace_ELBO(), seed=1)
    error = None
    try:
        strict.step(x, y, 8, 0, 0)
    except NonFiniteLossError as e:
        error = str(e)
    save(
        "nonfinite",
        {"history": history, "skipped": svi.num_skipped, "warnings": caught, "error": error},
    )


def raising_model(x, y, subsample_size, step):
    if RANK == 1 and step == 2:
        raise ValueError("boom on rank 1")
    models.regression_model(x, y, subsample_size)


def raising_guide(x, y, subsample_size, step):
    models.regression_guide(x, y, subsample_size)


def scenario_raise():
    ppl.clear_param_store()
    x, y = regression_data()
    svi = DistributedSVI(raising_model, raising_guide, Adam({"lr": 0.05}), Trace_ELBO(), seed=1)
    result = {"type": None, "message": None, "steps": 0}
    try:
        for step in range(5):
            svi.step(x, y, 8, step)
            result["steps"] += 1
    except Exception as e:
        result["type"], result["message"] = type(e).__name__, str(e)
    result["params"] = params()
    save("raise", result)


def scenario_checkpoint():
    path = os.path.join(OUT, "regression.ckpt")
    ppl.clear_param_store()
    svi = regression_svi(seed=4, subsample_size=8)
    for _ in range(5):
        svi.step()
    svi.save_checkpoint(path)
    for _ in range(5):
        svi.step()
    continued = params()
    ppl.clear_param_store()
    resumed_svi = regression_svi(seed=4, subsample_size=8)
    resumed_svi.load_checkpoint(path)
    for _ in range(5):
        resumed_svi.step()
    resumed = params()
    # The deterministic MAP model, for the one-process resume checked by the test.
    ppl.clear_param_store()
    map_path = os.path.join(OUT, "map.ckpt")
    map_svi = DistributedSVI(
        models.map_model, models.map_guide, Adam({"lr": 0.1}), Trace_ELBO(), shard=["data"]
    )
    for _ in range(5):
        map_svi.step(models.GRAD_DATA)
    map_svi.save_checkpoint(map_path)
    for _ in range(5):
        map_svi.step(models.GRAD_DATA)
    save("checkpoint", {"continued": continued, "resumed": resumed, "map": params()})


def scenario_predictive():
    ppl.clear_param_store()
    draws = DistributedPredictive(models.conjugate_model, num_samples=7)()
    given = {"z": torch.arange(7.0)}
    replayed = DistributedPredictive(
        models.conjugate_model, posterior_samples=given, return_sites=["z", "x"]
    )()
    save("predictive", {"draws": draws, "replayed": replayed})


def lopsided_guide(x, y, subsample_size):
    models.regression_guide(x, y, subsample_size)
    if RANK == 1:
        ppl.param("only_on_rank_1", torch.zeros(2))


def scenario_mismatch():
    ppl.clear_param_store()
    x, y = regression_data()
    svi = DistributedSVI(
        models.regression_model, lopsided_guide, Adam({"lr": 0.05}), Trace_ELBO(), x=x, y=y
    )
    result = {"type": None, "message": None}
    try:
        svi.step(subsample_size=8)
    except Exception as e:
        result["type"], result["message"] = type(e).__name__, str(e)
    save("mismatch", result)


def scenario_example():
    path = pathlib.Path(__file__).resolve().parents[3] / "examples" / "distributed_svi.py"
    spec = importlib.util.spec_from_file_location("example_distributed_svi", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = example.main(["--num-steps", "200", "--num-data", "20000", "--num-samples", "50"])
    save("example", {**result, "stdout": out.getvalue()})


def scenario_dead_peer():
    ppl.clear_param_store()
    svi = regression_svi(seed=2, subsample_size=8)
    svi.step()
    if RANK == 1:
        os._exit(3)  # dies without a word, as a killed process would
    start = time.perf_counter()
    result = {"type": None, "message": None}
    try:
        svi.step()
    except Exception as e:
        result["type"], result["message"] = type(e).__name__, str(e)
    result["seconds"] = time.perf_counter() - start
    save("dead_peer", result)


def main():
    torch.set_num_threads(1)
    init_distributed(timeout=20.0)
    for scenario in (
        scenario_identical,
        scenario_gradient,
        scenario_unbiased,
        scenario_nonfinite,
        scenario_raise,
        scenario_checkpoint,
        scenario_predictive,
        scenario_mismatch,
        scenario_example,
        scenario_dead_peer,
    ):
        start = time.perf_counter()
        scenario()
        print(f"{scenario.__name__}: {time.perf_counter() - start:.2f} s", flush=True)
    os._exit(0)  # skip process-group teardown: the peer is gone


if __name__ == "__main__":
    main()
