"""Data-parallel SVI: step time, throughput and bytes per step on 1 and 2 processes.

Each configuration runs as its own group of processes (gloo on this
machine's CPUs, one thread each) that times ``DistributedSVI.step`` after a
warm-up. Strong scaling keeps the global batch fixed (1 process with ``2B``
points against 2 with ``B`` each); weak scaling keeps the per-rank batch
fixed (``B`` on 1 process against ``B`` on each of 2). Bytes per step are the
all-reduced bucket (header and every gradient) and what a ring all-reduce
sends per rank, ``2 (W - 1) / W`` times the bucket. A last table models ``W``
nodes from those bytes and a stated network (see :func:`model_scaling`).

Run alone: ``python -m benchmarks --only distributed --output /tmp/d.md``.
"""

import argparse
import json
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import torch

__all__ = ["tables", "model_scaling", "ring_bytes", "SPECS"]

ROOT = pathlib.Path(__file__).resolve().parents[1]

# name -> (number of data points, features, outputs, per-rank batch B)
SPECS = {
    "linear regression D=10": (400_000, 10, 1, 20_000),
    "multi-output regression 500x100": (10_000, 500, 100, 1000),
}
STEPS, WARMUP = 100, 15
BANDWIDTH = 1.25e9  # bytes/s: a 10 Gbit/s network
LATENCY = 50e-6  # seconds per message hop over TCP between nodes


def ring_bytes(bucket_bytes, world_size):
    """Bytes one rank sends in a ring all-reduce of ``bucket_bytes``.

    Example:
        >>> ring_bytes(1000, 1), ring_bytes(1000, 2), ring_bytes(1000, 4)
        (0.0, 1000.0, 1500.0)
    """
    return 2 * (world_size - 1) / world_size * bucket_bytes


def model_scaling(compute, bucket_bytes, world_size, bandwidth=BANDWIDTH, latency=LATENCY):
    """Modelled step time on ``world_size`` nodes: compute plus a ring all-reduce.

    A ring all-reduce takes ``2 (W - 1)`` message hops, each paying the
    latency, and sends ``ring_bytes`` per rank at the bandwidth (Patarasuk
    and Yuan 2009, "Bandwidth optimal all-reduce algorithms for clusters of
    workstations", JPDC 69).

    Args:
        compute: seconds of local work per step at this node's batch.
        bucket_bytes: the all-reduced bytes per step.
        world_size: number of nodes.

    Example:
        >>> round(model_scaling(1e-3, 0, 2, latency=1e-4) * 1e3, 2)
        1.2
    """
    hops = 2 * (world_size - 1)
    return compute + hops * latency + ring_bytes(bucket_bytes, world_size) / bandwidth


# ------------------------------------------------------------------ worker
def _worker(spec_name, batch, out):
    torch.set_num_threads(1)
    import ppl
    from distributions import Normal, constraints
    from inference import Trace_ELBO
    from inference.distributed import DistributedSVI, init_distributed
    from inference.optim import Adam

    init_distributed(timeout=120)
    num_data, dim, outputs, _ = SPECS[spec_name]
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(num_data, dim, generator=generator)
    y = (x @ torch.randn(dim, outputs, generator=generator)).squeeze(-1)

    def model():
        w = ppl.sample("w", Normal(torch.zeros(dim, outputs), 1.0).to_event(2))
        with ppl.plate("data", num_data, subsample_size=batch) as idx:
            loc = (x[idx] @ w).squeeze(-1)
            ppl.sample("y", Normal(loc, 1.0).to_event(loc.dim() - 1), obs=y[idx])

    def guide():
        loc = ppl.param("w_loc", torch.zeros(dim, outputs))
        scale = ppl.param(
            "w_scale", torch.full((dim, outputs), 0.1), constraint=constraints.positive
        )
        ppl.sample("w", Normal(loc, scale).to_event(2))

    svi = DistributedSVI(model, guide, Adam({"lr": 0.01}), Trace_ELBO())
    times, cpu = [], []
    for step in range(WARMUP + STEPS):
        start, start_cpu = time.perf_counter(), time.process_time()
        svi.step()
        if step >= WARMUP:
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    bucket = 2 * svi.world_size + 2 + 2 + 2 * dim * outputs  # header + two gradients
    if svi.rank == 0:
        # The fastest step approximates an idle machine's; other jobs on
        # shared cores only ever add time.
        result = {
            "step": min(times),
            "median": statistics.median(times),
            "cpu": min(cpu),
            "bucket_bytes": 4 * bucket,
        }
        pathlib.Path(out).write_text(json.dumps(result))
    os._exit(0)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_group(spec_name, batch, world_size, timeout=600):
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "result.json"
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
                "OMP_NUM_THREADS": "1",
                "PYTHONPATH": str(ROOT),
            }
            cmd = [sys.executable, "-m", "benchmarks.bench_distributed", "--worker"]
            cmd += [spec_name, str(batch), str(out)]
            procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env))
        try:
            for p in procs:
                p.wait(timeout=timeout)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        return json.loads(out.read_text())


# ------------------------------------------------------------------ tables
def _measure(spec_name, log):
    batch = SPECS[spec_name][3]
    one = _run_group(spec_name, batch, 1)
    one_double = _run_group(spec_name, 2 * batch, 1)
    two = _run_group(spec_name, batch, 2)
    log(
        f"[distributed] {spec_name}: 1x{batch} {one['step'] * 1e3:.2f} ms, 1x{2 * batch} "
        f"{one_double['step'] * 1e3:.2f} ms, 2x{batch} {two['step'] * 1e3:.2f} ms"
    )
    return batch, one, one_double, two


def _scaling_row(spec_name, batch, one, one_double, two):
    def ms(run):
        return f"{run['step'] * 1e3:.2f} ({run['cpu'] * 1e3:.2f})"

    strong = one_double["step"] / two["step"]
    strong_cpu = one_double["cpu"] / two["cpu"]
    weak = (2 * batch / two["step"]) / (batch / one["step"])
    weak_cpu = one["cpu"] / two["cpu"]
    bucket = two["bucket_bytes"]
    return (
        f"| {spec_name} | {batch} | {ms(one)} | {ms(one_double)} | {ms(two)} | "
        f"{2 * batch / two['step']:,.0f} | {strong:.2f} ({strong_cpu:.2f}) | "
        f"{weak / 2:.2f} ({weak_cpu:.2f}) | {bucket:,} | {ring_bytes(bucket, 2):,.0f} |"
    )


def _model_rows(spec_name, batch, one, one_double):
    # Local compute as a line in the batch size, from the fastest steps of the
    # two 1-process runs.
    per_point = max(one_double["step"] - one["step"], 0.0) / batch
    fixed = max(one["step"] - per_point * batch, 0.0)
    bucket = one["bucket_bytes"]
    global_batch = 2 * batch
    rows = [_model_summary(spec_name, fixed, per_point, global_batch, bucket)]
    for w in (1, 2, 4, 8, 16, 64, 256):
        strong = model_scaling(fixed + per_point * global_batch / w, bucket, w)
        weak = model_scaling(fixed + per_point * global_batch, bucket, w)
        base = fixed + per_point * global_batch
        rows.append(
            f"| {spec_name} | {w} | {strong * 1e3:.2f} | {base / strong:.2f} | "
            f"{w * base / weak:.1f} |"
        )
    return rows


def _model_summary(spec_name, fixed, per_point, global_batch, bucket):
    # Strong scaling: per_point * G / W shrinks while 2 (W - 1) latencies grow,
    # so the step time is least near W = sqrt(per_point * G / (2 latency));
    # the fixed per-step cost caps the speedup at (fixed + per_point G) / fixed
    # however many nodes (Amdahl's law).
    best = (per_point * global_batch / (2 * LATENCY)) ** 0.5
    cap = (fixed + per_point * global_batch) / fixed if fixed > 0 else float("inf")
    return (
        f"| {spec_name}: fixed {fixed * 1e3:.2f} ms + {per_point * 1e6:.3f} us per point; "
        f"bucket {bucket:,} B | strong scaling peaks near W = {best:.0f} | cap {cap:.1f} | |"
    )


def tables(draws=None, log=print):
    """Measures every spec on 1 and 2 processes; returns ``[(title, markdown)]``."""
    measured = {name: _measure(name, log) for name in SPECS}
    header = (
        "| model | B per rank | 1 proc, B: fastest wall (CPU) ms | 1 proc, 2B | 2 procs, B each | "
        "2-proc points/s | strong speedup, wall (CPU) | weak efficiency, wall (CPU) | "
        "bucket bytes | ring bytes sent per rank |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    rows = [_scaling_row(name, *m) for name, m in measured.items()]
    scaling = header + "\n" + "\n".join(rows)
    model_header = (
        "| model | nodes W | modelled step, global batch 2B (ms) | strong speedup | "
        "weak speedup (throughput vs 1 node) |\n|---|---|---|---|---|"
    )
    model = [
        row for name, (b, one, dbl, _) in measured.items() for row in _model_rows(name, b, one, dbl)
    ]
    return [
        ("distributed SVI scaling (this machine)", scaling),
        ("distributed SVI: modelled N-node scaling", model_header + "\n" + "\n".join(model)),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", nargs=3, metavar=("SPEC", "BATCH", "OUT"))
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker[0], int(args.worker[1]), args.worker[2])
    else:
        for title, markdown in tables():
            print(f"## {title}\n\n{markdown}\n")
