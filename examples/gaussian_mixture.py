"""A Gaussian mixture with discrete assignments sampled in the guide.

Data come from three 1-d Gaussians. The model places a prior on the component
locations and draws a categorical assignment per point; the guide learns a
Gaussian over each location and a categorical over each point's assignment::

    loc[k] ~ Normal(0, 5)                   guide: Normal(m[k], s[k])
    z[i] ~ Categorical(1/K)                 guide: Categorical(softmax(l[i]))
    x[i] ~ Normal(loc[z[i]], 0.5)

The assignments are not reparameterizable, so their gradients come from the
score-function estimator. We compare ``Trace_ELBO`` (Rao-Blackwellized over the
data plate) with ``TraceGraph_ELBO`` (Rao-Blackwellized over the stochastic
computation graph, Schulman et al. 2015, arXiv 1506.05254), with and without a
decaying-average baseline, plotting convergence and gradient variance, and save
a drawing of the stochastic computation graph.

Run ``python examples/gaussian_mixture.py --help`` for options.
"""

import argparse
import pathlib

import matplotlib.pyplot as plt
import torch

import distributions as dist
import inference
import ppl
from distributions import constraints
from inference import SVI, Trace_ELBO, TraceGraph_ELBO
from inference.optim import Adam

__all__ = ["make_data", "model", "make_guide", "main"]

K = 3
TRUE_LOCS = torch.tensor([-4.0, 0.0, 5.0])


def make_data(n, seed=0):
    """``n`` points from three well separated Gaussians."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randint(K, (n,), generator=generator)
    return TRUE_LOCS[z] + 0.5 * torch.randn(n, generator=generator)


def model(data):
    """Mixture of K Gaussians with unknown locations and known scale 0.5."""
    with ppl.plate("components", K):
        locs = ppl.sample("locs", dist.Normal(0.0, 5.0))
    with ppl.plate("data", len(data)):
        z = ppl.sample("z", dist.Categorical(torch.ones(K) / K))
        ppl.sample("x", dist.Normal(locs[z], 0.5), obs=data)


def make_guide(baseline=None):
    """A mean-field guide; ``baseline`` is the ``infer["baseline"]`` of the assignments."""

    def guide(data):
        m = ppl.param("m", torch.tensor([-1.0, 0.0, 1.0]))
        s = ppl.param("s", torch.ones(K), constraint=constraints.positive)
        logits = ppl.param("logits", torch.zeros(len(data), K))
        with ppl.plate("components", K):
            ppl.sample("locs", dist.Normal(m, s))
        infer = {"baseline": baseline} if baseline else {}
        with ppl.plate("data", len(data)):
            ppl.sample("z", dist.Categorical(logits=logits), infer=infer)

    return guide


VARIANTS = {
    "Trace_ELBO": (Trace_ELBO, None),
    "TraceGraph_ELBO": (TraceGraph_ELBO, None),
    "TraceGraph_ELBO + avg baseline": (
        TraceGraph_ELBO,
        {"use_decaying_avg_baseline": True, "baseline_beta": 0.9},
    ),
}


def fit(variant, data, steps, seed=0):
    """Trains one variant from scratch; returns its loss history."""
    loss_cls, baseline = VARIANTS[variant]
    ppl.clear_param_store()
    ppl.set_rng_seed(seed)
    svi = SVI(model, make_guide(baseline), Adam({"lr": 0.05}), loss_cls())
    return svi.run(steps, data, progress=False)


def gradient_variance(variant, data, draws, seed=0):
    """Mean over parameters of the variance of their gradients at the initial point."""
    loss_cls, baseline = VARIANTS[variant]
    ppl.clear_param_store()
    ppl.set_rng_seed(seed)
    guide, elbo = make_guide(baseline), loss_cls()
    grads = []
    for _ in range(draws):
        store = ppl.get_param_store()
        for _, p in store.named_parameters():
            p.grad = None
        elbo.loss_and_grads(model, guide, data)
        grads.append(torch.cat([p.grad.flatten() for _, p in sorted(store.named_parameters())]))
    return torch.stack(grads).var(0).mean().item()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-steps", type=int, default=600, help="SVI steps per variant")
    parser.add_argument("--num-data", type=int, default=60, help="data points")
    parser.add_argument("--draws", type=int, default=50, help="gradient draws for the variance")
    parser.add_argument("--out", default="examples/output", help="folder for the PNGs")
    args = parser.parse_args(argv)
    data = make_data(args.num_data)
    curves = {v: fit(v, data, args.num_steps) for v in VARIANTS}
    variances = {v: gradient_variance(v, data, args.draws) for v in VARIANTS}
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for v, curve in curves.items():
        ax1.plot(curve, label=v, alpha=0.8)
    ax1.set(xlabel="step", ylabel="-ELBO", yscale="log", title="convergence")
    ax1.legend()
    ax2.bar(range(len(variances)), list(variances.values()))
    ax2.set_xticks(range(len(variances)), list(variances), rotation=15, fontsize=8)
    ax2.set(yscale="log", ylabel="mean gradient variance", title="estimator variance")
    fig.tight_layout()
    fig.savefig(out / "gaussian_mixture.png")
    plt.close(fig)
    graph = inference.scg(model, make_guide(), data)
    inference.render_scg(graph, filename=out / "gaussian_mixture_scg.png")
    for v in VARIANTS:
        print(f"{v:>32}: final loss {curves[v][-1]:9.2f}, gradient variance {variances[v]:.3g}")
    return {
        "curves": curves,
        "variances": variances,
        "png": out / "gaussian_mixture.png",
        "scg_png": out / "gaussian_mixture_scg.png",
    }


if __name__ == "__main__":
    main()
