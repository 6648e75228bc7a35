"""Bayesian logistic regression on a large synthetic data set, data-parallel.

Run on two processes (CPU/gloo here; NCCL and one GPU per rank where CUDA is
available):

    torchrun --standalone --nproc_per_node=2 examples/distributed_svi.py --num-steps 1000

or as one process: ``python examples/distributed_svi.py``. The model and the
guide are the ones a single process would use: each step, every rank takes
its own disjoint minibatch of the ``data`` plate, and one all-reduce of the
gradients keeps the parameters identical. At the end rank 0 prints the fitted
weights next to the true ones and whether every parameter's checksum agrees
across the ranks.
"""

import argparse
import time
import zlib

import torch

import ppl
from distributions import Bernoulli, Normal
from inference import Trace_ELBO
from inference.autoguide import AutoNormal
from inference.distributed import (
    DistributedPredictive,
    DistributedSVI,
    all_gather_objects,
    init_distributed,
)
from inference.optim import Adam


def make_data(num_data, dim, seed=0):
    """Features, labels and the true weights (every rank builds the same set)."""
    generator = torch.Generator().manual_seed(seed)
    weights = torch.linspace(-1.5, 1.5, dim)
    bias = torch.tensor(0.5)
    x = torch.randn(num_data, dim, generator=generator)
    y = torch.bernoulli(torch.sigmoid(x @ weights + bias), generator=generator)
    return x, y, weights, bias


def model(x, y, batch_size):
    dim = x.shape[1]
    w = ppl.sample("w", Normal(torch.zeros(dim, device=x.device), 1.0).to_event(1))
    b = ppl.sample("b", Normal(torch.tensor(0.0, device=x.device), 5.0))
    with ppl.plate("data", x.shape[0], subsample_size=batch_size) as idx:
        idx = idx.to(x.device)
        ppl.sample("y", Bernoulli(logits=x[idx] @ w + b), obs=y[idx])


def checksums():
    """One CRC-32 per parameter of its exact bytes."""
    store = ppl.get_param_store()
    return {
        name: zlib.crc32(leaf.detach().cpu().contiguous().numpy().tobytes())
        for name, leaf in store.named_parameters()
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--num-steps", type=int, default=1500, help="SVI steps")
    parser.add_argument("--num-data", type=int, default=200_000, help="data set size")
    parser.add_argument("--dim", type=int, default=8, help="number of features")
    parser.add_argument("--batch-size", type=int, default=500, help="minibatch per rank")
    parser.add_argument("--lr", type=float, default=0.05, help="Adam learning rate")
    parser.add_argument("--seed", type=int, default=0, help="one seed for every rank")
    parser.add_argument("--num-samples", type=int, default=200, help="posterior draws")
    parser.add_argument("--progress", action="store_true", help="progress bar (rank 0)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    device = init_distributed()
    ppl.clear_param_store()
    x, y, true_w, true_b = make_data(args.num_data, args.dim)
    x, y = x.to(device), y.to(device)
    guide = AutoNormal(model)
    svi = DistributedSVI(
        model,
        guide,
        Adam({"lr": args.lr}),
        Trace_ELBO(),
        seed=args.seed,
        batch_size=args.batch_size,
    )
    start = time.perf_counter()
    losses = svi.run(args.num_steps, x, y, progress=args.progress)
    seconds = time.perf_counter() - start
    predictive = DistributedPredictive(model, guide=guide, num_samples=args.num_samples)
    samples = predictive(x[:1], y[:1], 1)  # latents only: a one-point data set suffices
    identical = all(c == checksums() for c in all_gather_objects(checksums()))
    w, b = samples["w"].mean(0).cpu(), samples["b"].mean().cpu()
    if svi.rank == 0:
        points = args.num_steps * args.batch_size * svi.world_size
        print(
            f"{svi.world_size} rank(s), {args.num_steps} steps in {seconds:.1f} s "
            f"({points / seconds:,.0f} data points per second)"
        )
        print("fitted w:", [round(v, 2) for v in w.tolist()])
        print("true w:  ", [round(v, 2) for v in true_w.tolist()])
        print(f"fitted b: {b.item():.2f} (true {true_b.item():.2f})")
        print(f"parameters identical across ranks: {identical}")
    return {
        "w": w,
        "b": b,
        "true_w": true_w,
        "true_b": true_b,
        "identical": identical,
        "losses": losses,
        "world_size": svi.world_size,
    }


if __name__ == "__main__":
    main()
