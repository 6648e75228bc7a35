"""Gradient variance of TraceGraph_ELBO, ours vs Pyro, on a discrete-latent model.

The model has Bernoulli latents ``z_i`` (prior 0.3) and Normal observations
``x_i ~ Normal(2 z_i, 1)``; the guide has one learnable logit per latent. The
same pyroapi code runs on both backends, in a vectorized plate and in a
sequential plate (``pyro.plate`` used as an iterator), without a baseline,
with a decaying-average baseline, and (ours only; Pyro has none) with the
leave-one-out baseline over vectorized particles, which is set against Pyro's
decaying average and Pyro without a baseline at the same number of particles.

Each estimate holds the parameters fixed, takes ``WARMUP`` gradient
evaluations (so a decaying average settles), then ``DRAWS`` more, and reports
the total variance ``sum_i Var(d loss / d logit_i)``. Variance is not a
timing: this module contributes a table through ``tables()``, not ``cases()``.
"""

import math
from dataclasses import dataclass

import torch
from pyroapi import distributions as pdist
from pyroapi import infer, pyro, pyro_backend

import ppl  # noqa: F401  (registers the "ppl" backend)

__all__ = ["Variance", "gradient_variance", "pyro_available", "specs", "tables", "variance_ratio"]

WARMUP = 30
PARTICLES = 4
SIZES = {"vectorized": 100, "sequential": 10}
DRAWS = {"vectorized": 1000, "sequential": 300}
DECAYING = {"use_decaying_avg_baseline": True, "baseline_beta": 0.9}
LOO = {"loo": True}


def _data(size):
    generator = torch.Generator().manual_seed(0)
    z = torch.bernoulli(torch.full((size,), 0.3), generator=generator)
    x = 2.0 * z + torch.randn(size, generator=generator)
    init = 0.5 * torch.randn(size, generator=generator)
    return x, init


def _vectorized(baseline):
    def model(data, init):
        with pyro.plate("data", len(data)):
            z = pyro.sample("z", pdist.Bernoulli(0.3))
            pyro.sample("x", pdist.Normal(2.0 * z, 1.0), obs=data)

    def guide(data, init):
        logits = pyro.param("logits", init.clone())
        with pyro.plate("data", len(data)):
            pyro.sample("z", pdist.Bernoulli(logits=logits), infer=_infer(baseline))

    return model, guide


def _sequential(baseline):
    def model(data, init):
        for i in pyro.plate("data", len(data)):
            z = pyro.sample(f"z_{i}", pdist.Bernoulli(0.3))
            pyro.sample(f"x_{i}", pdist.Normal(2.0 * z, 1.0), obs=data[i])

    def guide(data, init):
        logits = pyro.param("logits", init.clone())
        for i in pyro.plate("data", len(data)):
            pyro.sample(f"z_{i}", pdist.Bernoulli(logits=logits[i]), infer=_infer(baseline))

    return model, guide


def _infer(baseline):
    return {"baseline": dict(baseline)} if baseline else {}


@dataclass
class Variance:
    """A total gradient variance and the per-draw squared deviations it averages."""

    total: float
    per_draw: torch.Tensor
    mean: torch.Tensor


def gradient_variance(backend, plate, baseline, draws, warmup=None, particles=1, seed=0):
    """Estimates the total variance of TraceGraph_ELBO's gradient on ``backend``.

    Args:
        backend: ``"ppl"`` or ``"pyro"``.
        plate: ``"vectorized"`` or ``"sequential"``.
        baseline: ``None`` or a baseline config (``DECAYING``, ``LOO``).
        draws: gradient evaluations recorded.
        warmup: evaluations discarded first (baselines settle); ``None``: ``WARMUP``.
        particles: vectorized particles per evaluation.
        seed: torch's seed for the first draw (``seed + d`` for draw ``d``).

    Returns:
        A :class:`Variance` with ``total = sum_i Var(g_i)`` over the logits.
    """
    warmup = WARMUP if warmup is None else warmup
    data, init = _data(SIZES[plate])
    model, guide = (_vectorized if plate == "vectorized" else _sequential)(baseline)
    kwargs = {}
    if particles > 1:
        kwargs = {"num_particles": particles, "vectorize_particles": True}
        kwargs["max_plate_nesting"] = 1 if plate == "vectorized" else 0
    with pyro_backend(backend):
        pyro.clear_param_store()
        elbo = infer.TraceGraph_ELBO(**kwargs)
        grads = []
        for d in range(warmup + draws):
            # A seed per draw keeps draw d of both backends on the same random numbers,
            # whatever either consumed before (the CPU generator only: torch.manual_seed
            # also queues lazy accelerator seeding, which costs a millisecond).
            torch.default_generator.manual_seed(seed + d)
            grads.append(_gradient(elbo, model, guide, data, init))
        pyro.clear_param_store()
    grads = torch.stack(grads[warmup:]).double()
    mean = grads.mean(0)
    per_draw = ((grads - mean) ** 2).sum(-1)
    return Variance(float(per_draw.sum()) / max(draws - 1, 1), per_draw, mean)


def _gradient(elbo, model, guide, data, init):
    elbo.loss_and_grads(model, guide, data, init)
    logits = dict(pyro.get_param_store().named_parameters())["logits"]
    grad = logits.grad.detach().clone()
    logits.grad = None
    return grad


def variance_ratio(ours, peer):
    """``ours.total / peer.total`` and its relative standard error.

    Both estimates start from the same seed, so draw ``d`` of each may share
    random numbers; the error is the paired (delta-method) one, which is valid
    whether or not the pairs are correlated.
    """
    a, b = ours.per_draw, peer.per_draw
    ratio = float(a.mean() / b.mean())
    rel_se = float((a / a.mean() - b / b.mean()).std()) / math.sqrt(len(a))
    return ratio, rel_se


def pyro_available():
    """Whether ``pyro-ppl`` is importable."""
    try:
        import pyro as _  # noqa: F401
    except ImportError:
        return False
    return True


def specs():
    """``(label, plate, our baseline, Pyro's baseline, particles)`` per table row."""
    rows = []
    for plate, size in SIZES.items():
        where, k = f"{plate} plate({size})", PARTICLES
        rows += [
            (f"{where}, no baseline", plate, None, None, 1),
            (f"{where}, decaying-average baseline", plate, DECAYING, DECAYING, 1),
            (
                f"{where}, {k} particles: ours leave-one-out vs Pyro decaying average",
                plate,
                LOO,
                DECAYING,
                k,
            ),
        ]
        if plate == "vectorized":  # Pyro's sequential plates are slow: one row fewer there
            rows.append(
                (
                    f"{where}, {k} particles: ours leave-one-out vs Pyro no baseline",
                    plate,
                    LOO,
                    None,
                    k,
                )
            )
    return rows


def tables(draws=None, log=print):
    """The variance table as ``[(title, markdown)]``; empty when Pyro is not installed.

    Args:
        draws: gradient evaluations per estimate; ``None`` uses ``DRAWS`` per plate kind.
        log: where progress lines go.
    """
    if not pyro_available():
        log("pyro-ppl is not installed: skipping the gradient-variance comparison")
        return []
    torch.set_num_threads(1)
    lines = [
        "| case | draws | ours variance | Pyro variance | ours/Pyro | rel. s.e. of ratio |",
        "|---|---|---|---|---|---|",
    ]
    for label, plate, ours_baseline, pyro_baseline, particles in specs():
        n = draws or DRAWS[plate]
        ours = gradient_variance("ppl", plate, ours_baseline, n, particles=particles)
        peer = gradient_variance("pyro", plate, pyro_baseline, n, particles=particles)
        ratio, rel_se = variance_ratio(ours, peer)
        log(f"[variance] {label}: ours/pyro {ratio:.3f} (+- {100 * rel_se:.1f}%)")
        lines.append(
            f"| {label} | {n} | {ours.total:.4g} | {peer.total:.4g} | {ratio:.2f} "
            f"| {100 * rel_se:.1f}% |"
        )
    note = (
        "Total variance of TraceGraph_ELBO's gradient over the guide's logits at fixed "
        f"parameters, after {WARMUP} warm-up evaluations (so a decaying average settles). "
        "Draw d of both backends runs from seed d, so both see the same Bernoulli samples "
        "(common random numbers): where the two "
        "estimators are the same function, the ratio is 1 with an error near 0. The "
        "relative standard error is the paired delta-method one over the draws, the real "
        "sampling error of the ratio whatever the pairing. Below 1: ours is less noisy.\n\n"
    )
    return [("gradient variance", note + "\n".join(lines))]
