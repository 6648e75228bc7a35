"""Eight schools: hierarchical model fitted with SVI and an AutoNormal guide.

The classic data of Rubin (1981): estimated effects ``y`` of a coaching
programme in eight schools with known standard errors ``sigma``. The model is
the non-centred hierarchy of Gelman et al., "Bayesian Data Analysis", ch. 5::

    mu ~ Normal(0, 5),  tau ~ HalfCauchy(5)
    theta_raw[j] ~ Normal(0, 1),  theta[j] = mu + tau * theta_raw[j]
    y[j] ~ Normal(theta[j], sigma[j])

We fit a mean-field Gaussian guide in unconstrained space (``AutoNormal``)
with ``Trace_ELBO``, print a posterior summary, run a posterior predictive
check, and save two plots: the loss curve and per-school posterior intervals.

Run ``python examples/eight_schools.py --help`` for options.
"""

import argparse
import pathlib

import matplotlib.pyplot as plt
import torch

import distributions as dist
import ppl
from inference import SVI, Predictive, Trace_ELBO, summary
from inference.autoguide import AutoNormal
from inference.optim import Adam

__all__ = ["Y", "SIGMA", "model", "fit", "main"]

Y = torch.tensor([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SIGMA = torch.tensor([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def model(sigma, y=None):
    """The non-centred eight-schools model; ``y=None`` draws new observations."""
    mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
    tau = ppl.sample("tau", dist.HalfCauchy(5.0))
    with ppl.plate("schools", len(sigma)):
        theta_raw = ppl.sample("theta_raw", dist.Normal(0.0, 1.0))
        theta = ppl.deterministic("theta", mu + tau * theta_raw)
        return ppl.sample("obs", dist.Normal(theta, sigma), obs=y)


def fit(num_steps, lr=0.05, seed=0, progress=True):
    """Fits the AutoNormal guide; returns the guide and the loss history."""
    ppl.clear_param_store()
    ppl.set_rng_seed(seed)
    guide = AutoNormal(model)
    svi = SVI(model, guide, Adam({"lr": lr}), Trace_ELBO())
    losses = svi.run(num_steps, SIGMA, Y, progress=progress)
    return guide, losses


def _plot(losses, theta, out):
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    if losses:
        _plot_loss(ax1, losses)
    else:
        ax1.text(0.5, 0.5, "no SVI steps (--num-steps 0)", ha="center", transform=ax1.transAxes)
        ax1.set(title="SVI loss", xticks=[], yticks=[])
    lo, mid, hi = torch.quantile(theta, torch.tensor([0.05, 0.5, 0.95]), dim=0).numpy()
    schools = torch.arange(len(Y)).numpy()
    ax2.errorbar(schools, mid, yerr=[mid - lo, hi - mid], fmt="o", label="posterior theta (90%)")
    ax2.scatter(schools, Y.numpy(), marker="x", color="red", label="observed y")
    ax2.set(xlabel="school", ylabel="effect", title="per-school posterior intervals")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def _plot_loss(ax1, losses):
    loss = torch.tensor(losses)
    ax1.plot(loss.numpy(), alpha=0.4, label="per step")
    window = min(50, len(losses))
    smooth = loss.unfold(0, window, 1).mean(-1).numpy()
    ax1.plot(range(window - 1, len(losses)), smooth, label=f"{window}-step mean")
    # Clip the first steps' large losses so the converged level is readable.
    ax1.set_ylim(loss.min().item() - 1, loss.quantile(0.99).item() + 1)
    ax1.set(xlabel="step", ylabel="-ELBO", title="SVI loss")
    ax1.legend()


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--num-steps", type=int, default=2000, help="SVI steps")
    parser.add_argument("--num-samples", type=int, default=1000, help="posterior samples")
    parser.add_argument("--lr", type=float, default=0.05, help="Adam learning rate")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--out", default="examples/output", help="folder for the PNGs")
    args = parser.parse_args(argv)
    guide, losses = fit(args.num_steps, args.lr, progress=not args.no_progress)
    predictive = Predictive(model, guide=guide, num_samples=args.num_samples)
    samples = predictive(SIGMA)
    print(summary({k: samples[k] for k in ("mu", "tau", "theta")}))
    obs = samples["obs"]
    coverage = ((obs.quantile(0.05, 0) <= Y) & (Y <= obs.quantile(0.95, 0))).float().mean()
    print(f"posterior predictive check: {coverage:.0%} of schools inside their 90% interval")
    if losses:
        print(f"loss {losses[0]:.1f} -> {losses[-1]:.1f} over {len(losses)} steps")
    mu, tau = samples["mu"], samples["tau"]
    print(f"mu {mu.mean():.2f} +- {mu.std():.2f}, tau median {tau.median():.2f}")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _plot(losses, samples["theta"], out / "eight_schools.png")
    print(f"saved {out / 'eight_schools.png'}")
    return {
        "losses": losses,
        "samples": samples,
        "coverage": coverage,
        "png": out / "eight_schools.png",
    }


if __name__ == "__main__":
    main()
