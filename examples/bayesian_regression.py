"""Bayesian linear regression on scikit-learn's diabetes data.

Disease progression one year after baseline is regressed on body-mass index
(standardized), with priors on the intercept, slope and noise scale::

    a ~ Normal(0, 10), b ~ Normal(0, 10), sigma ~ HalfNormal(5)
    y[i] ~ Normal(a + b * bmi[i], sigma)

The posterior is approximated by a full-rank Gaussian guide in unconstrained
space (``AutoMultivariateNormal``); ``Predictive`` then gives posterior
predictive draws, plotted as 90% intervals of the mean and of new
observations against the data. The data set ships inside scikit-learn (the
``examples`` extra).

Run ``python examples/bayesian_regression.py --help`` for options.
"""

import argparse
import pathlib

import matplotlib.pyplot as plt
import torch

import distributions as dist
import ppl
from inference import SVI, Predictive, Trace_ELBO, summary
from inference.autoguide import AutoMultivariateNormal
from inference.optim import Adam

__all__ = ["load_data", "model", "main"]


def load_data():
    """Standardized BMI and standardized disease progression, as float tensors."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    bmi = torch.tensor(data.data[:, 2], dtype=torch.float32)
    y = torch.tensor(data.target, dtype=torch.float32)
    return (bmi - bmi.mean()) / bmi.std(), (y - y.mean()) / y.std()


def model(x, y=None):
    """Linear regression with a learned noise scale; returns the regression line."""
    a = ppl.sample("a", dist.Normal(0.0, 10.0))
    b = ppl.sample("b", dist.Normal(0.0, 10.0))
    sigma = ppl.sample("sigma", dist.HalfNormal(5.0))
    mean = ppl.deterministic("mean", a + b * x)
    with ppl.plate("patients", len(x)):
        ppl.sample("y", dist.Normal(mean, sigma), obs=y)
    return mean


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--num-steps", type=int, default=1500, help="SVI steps")
    parser.add_argument("--num-samples", type=int, default=500, help="posterior samples")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--out", default="examples/output", help="folder for the PNG")
    args = parser.parse_args(argv)
    ppl.clear_param_store()
    ppl.set_rng_seed(0)
    x, y = load_data()
    guide = AutoMultivariateNormal(model)
    svi = SVI(model, guide, Adam({"lr": 0.03}), Trace_ELBO())
    losses = svi.run(args.num_steps, x, y, progress=not args.no_progress)
    grid = torch.linspace(x.min(), x.max(), 50)
    samples = Predictive(model, guide=guide, num_samples=args.num_samples)(grid)
    print(summary({k: samples[k] for k in ("a", "b", "sigma")}))
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(x.numpy(), y.numpy(), s=6, alpha=0.5, label="patients")
    for site, label, alpha in (("y", "90% predictive", 0.2), ("mean", "90% mean", 0.5)):
        lo, hi = samples[site].quantile(torch.tensor([0.05, 0.95]), dim=0)
        ax.fill_between(grid.numpy(), lo.numpy(), hi.numpy(), alpha=alpha, label=label)
    ax.set(xlabel="BMI (standardized)", ylabel="progression (standardized)")
    ax.set_title("diabetes progression vs BMI: posterior predictive")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "bayesian_regression.png")
    plt.close(fig)
    # With these wide priors the posterior mean of the line is the least-squares fit.
    ols = torch.linalg.lstsq(torch.stack([torch.ones_like(x), x], -1), y[:, None]).solution
    b = samples["b"]
    print(f"slope b {b.mean():.3f} +- {b.std():.3f} (least squares {ols[1].item():.3f})")
    print(f"saved {out / 'bayesian_regression.png'}")
    return {"losses": losses, "samples": samples, "png": out / "bayesian_regression.png"}


if __name__ == "__main__":
    main()
