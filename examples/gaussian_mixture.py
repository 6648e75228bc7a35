"""A Gaussian mixture: discrete assignments sampled in the guide, or summed out exactly.

Data come from three 1-d Gaussians. The model places a prior on the component
locations and draws a categorical assignment per point; the guide learns a
Gaussian over each location and, in the sampled variants, a categorical over
each point's assignment::

    loc[k] ~ Normal(0, 5)                   guide: Normal(m[k], s[k])
    z[i] ~ Categorical(1/K)                 guide: Categorical(softmax(l[i]))
    x[i] ~ Normal(loc[z[i]], 0.5)

Sampled assignments are not reparameterizable, so their gradients come from the
score-function estimator. We compare ``Trace_ELBO`` (Rao-Blackwellized over the
data plate) with ``TraceGraph_ELBO`` (Rao-Blackwellized over the stochastic
computation graph, Schulman et al. 2015, arXiv 1506.05254), with and without a
decaying-average baseline, and with ``TraceEnum_ELBO``, which marks ``z``
``infer={"enumerate": "parallel"}`` in the model and sums it out exactly
(Obermeyer et al. 2019, "Tensor Variable Elimination for Plated Factor
Graphs"); its guide has no ``z`` at all. The plot shows convergence and the
gradient variance at the initial point of the location parameters ``m, s``
(shared by every variant) and of the assignment logits, each on a linear axis
from zero. The logits' variance is exactly zero for the enumerated variant:
there is no sampled assignment left. Its location gradients are noisier at the
start, though: the exact responsibilities swing with each draw of the
locations. A drawing of the stochastic computation graph is saved too.

Run ``python examples/gaussian_mixture.py --help`` for options.
"""

import argparse
import pathlib
from contextlib import contextmanager

import matplotlib.pyplot as plt
import torch

import distributions as dist
import inference
import ppl
from distributions import constraints
from inference import SVI, Trace_ELBO, TraceEnum_ELBO, TraceGraph_ELBO
from inference.optim import Adam

__all__ = ["make_data", "model", "enum_model", "make_guide", "fit", "gradient_variance", "main"]

K = 3
TRUE_LOCS = torch.tensor([-4.0, 0.0, 5.0])
INIT_LOCS = torch.tensor([-1.0, 0.0, 1.0])


def make_data(n, seed=0):
    """``n`` points from three well separated Gaussians."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randint(K, (n,), generator=generator)
    return TRUE_LOCS[z] + 0.5 * torch.randn(n, generator=generator)


def model(data, enumerate_z=False):
    """Mixture of K Gaussians with unknown locations and known scale 0.5."""
    with ppl.plate("components", K):
        locs = ppl.sample("locs", dist.Normal(0.0, 5.0))
    infer = {"enumerate": "parallel"} if enumerate_z else {}
    with ppl.plate("data", len(data)):
        # Enumerated, z has shape (K, 1): locs[z] broadcasts against the data
        # plate and the K rows are summed out by variable elimination.
        z = ppl.sample("z", dist.Categorical(torch.ones(K) / K), infer=infer)
        ppl.sample("x", dist.Normal(locs[z], 0.5), obs=data)


def enum_model(data):
    """The same mixture with the assignments marked for exact enumeration."""
    return model(data, enumerate_z=True)


def make_guide(baseline=None, with_z=True):
    """A mean-field guide; ``baseline`` is the ``infer["baseline"]`` of the assignments.

    With ``with_z=False`` the guide covers the locations only (the assignments
    are summed out in the model).
    """

    def guide(data):
        m = ppl.param("m", INIT_LOCS)
        s = ppl.param("s", torch.ones(K), constraint=constraints.positive)
        with ppl.plate("components", K):
            ppl.sample("locs", dist.Normal(m, s))
        if not with_z:
            return
        logits = ppl.param("logits", torch.zeros(len(data), K))
        infer = {"baseline": baseline} if baseline else {}
        with ppl.plate("data", len(data)):
            ppl.sample("z", dist.Categorical(logits=logits), infer=infer)

    return guide


_AVG_BASELINE = {"use_decaying_avg_baseline": True, "baseline_beta": 0.9}

# name -> (model, guide factory arguments, loss factory)
VARIANTS = {
    "Trace_ELBO": (model, {}, Trace_ELBO),
    "TraceGraph_ELBO": (model, {}, TraceGraph_ELBO),
    "TraceGraph_ELBO + avg baseline": (model, {"baseline": _AVG_BASELINE}, TraceGraph_ELBO),
    "TraceEnum_ELBO (z summed out)": (
        enum_model,
        {"with_z": False},
        lambda: TraceEnum_ELBO(max_plate_nesting=1),
    ),
}


def _setup(variant, seed):
    program, guide_args, loss_cls = VARIANTS[variant]
    ppl.clear_param_store()
    ppl.set_rng_seed(seed)
    return program, make_guide(**guide_args), loss_cls()


def fit(variant, data, steps, seed=0, progress=False):
    """Trains one variant from scratch; returns its loss history and fitted ``m``."""
    program, guide, elbo = _setup(variant, seed)
    svi = SVI(program, guide, Adam({"lr": 0.05}), elbo)
    if progress:  # SVI.run's bars are all labelled "SVI": say which variant this is
        print(f"fitting with {variant}", flush=True)
    losses = svi.run(steps, data, progress=progress)
    store = ppl.get_param_store()
    # With no steps the guide never ran: its locations are still the initial ones.
    m = store["m"].detach().clone() if "m" in store else INIT_LOCS.clone()
    return losses, m


def gradient_variance(variant, data, draws, seed=0):
    """Gradient variance at the initial point, averaged within each parameter group.

    Returns:
        ``{"locations": ..., "logits": ...}``: the mean over the elements of
        ``m, s`` and over the assignment logits of the variance of their
        gradients across ``draws`` independent estimates. The logits' entry is
        exactly 0 for the enumerated variant, which has no logits.
    """
    program, guide, elbo = _setup(variant, seed)
    grads = {"locations": [], "logits": []}
    for _ in range(draws):
        store = ppl.get_param_store()
        for _, p in store.named_parameters():
            p.grad = None
        elbo.loss_and_grads(program, guide, data)
        params = dict(store.named_parameters())
        grads["locations"].append(torch.cat([params["m"].grad, params["s"].grad]))
        if "logits" in params:
            grads["logits"].append(params["logits"].grad.flatten())
    return {k: torch.stack(g).var(0).mean().item() if g else 0.0 for k, g in grads.items()}


def _plot(curves, variances, path):
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), gridspec_kw={"width_ratios": [4, 3, 3]})
    for v, curve in curves.items():
        axes[0].plot(curve, label=v, alpha=0.8)
    axes[0].set(xlabel="step", ylabel="-ELBO", yscale="log", title="convergence")
    axes[0].legend(fontsize=8)
    names = list(variances)
    labels = [n.replace("_ELBO", "").replace(" + ", "\n+ ").replace(" (", "\n(") for n in names]
    colors = [f"C{i}" for i in range(len(names))]
    for ax, group, what in zip(axes[1:], ("locations", "logits"), ("m, s", "assignment logits")):
        heights = [variances[v][group] for v in names]
        bars = ax.bar(range(len(names)), heights, color=colors)
        ax.bar_label(bars, [f"{h:.3g}" for h in heights], fontsize=8)
        # Linear and zero-based: bar heights are proportional to the variance,
        # so small differences look small and the enumerated zero is a real 0.
        ax.set_ylim(0, 1.12 * max(heights + [1e-12]))
        ax.set_xticks(range(len(names)), labels, fontsize=7)
        ax.set(ylabel="mean gradient variance (linear axis from 0)")
        ax.set_title(f"gradient variance of {what}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


@contextmanager
def _threads(n):
    """Runs the block on ``n`` torch intra-op threads, then restores the previous count.

    The tensors here are tiny: a second thread adds a synchronisation per
    operation and buys no arithmetic (on a busy machine it multiplies the run time).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--num-steps", type=int, default=600, help="SVI steps per variant")
    parser.add_argument("--num-data", type=int, default=60, help="data points")
    parser.add_argument("--draws", type=int, default=50, help="gradient draws for the variance")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (tiny tensors: more only add overhead)",
    )
    parser.add_argument("--out", default="examples/output", help="folder for the PNGs")
    args = parser.parse_args(argv)
    with _threads(args.threads):
        return _run(args)


def _run(args):
    data = make_data(args.num_data)
    fits = {v: fit(v, data, args.num_steps, progress=not args.no_progress) for v in VARIANTS}
    curves = {v: losses for v, (losses, _) in fits.items()}
    variances = {v: gradient_variance(v, data, args.draws) for v in VARIANTS}
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _plot(curves, variances, out / "gaussian_mixture.png")
    graph = inference.scg(model, make_guide(), data)
    inference.render_scg(graph, filename=out / "gaussian_mixture_scg.png")
    print(f"true locations {TRUE_LOCS.tolist()}; gradient variance of (m, s) and of the logits")
    for v, (losses, m) in fits.items():
        n = min(50, len(losses))
        final = f"{sum(losses[-n:]) / n:9.2f}" if losses else "      n/a"
        locs = ", ".join(f"{x:5.2f}" for x in m.sort().values.tolist())
        var = variances[v]
        print(
            f"{v:>30}: loss (last {n} steps) {final}, locations [{locs}], "
            f"variance {var['locations']:.3g} / {var['logits']:.3g}"
        )
    print(f"saved {out / 'gaussian_mixture.png'} and {out / 'gaussian_mixture_scg.png'}")
    return {
        "curves": curves,
        "locations": {v: m for v, (_, m) in fits.items()},
        "variances": variances,
        "png": out / "gaussian_mixture.png",
        "scg_png": out / "gaussian_mixture_scg.png",
    }


if __name__ == "__main__":
    main()
