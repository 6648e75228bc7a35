"""Bayesian regression as a module: the tutorial's ``PyroModule`` model with ``ppl.nn``.

``ppl.nn.Module[torch.nn.Linear]`` turns a linear layer into a Bayesian one
whose ``weight`` and ``bias`` get Normal priors through ``ppl.nn.Sample``;
the outer module samples the noise scale ``sigma`` and observes the data in
a plate, as in Pyro's Bayesian regression tutorial::

    weight ~ Normal(0, 1),  bias ~ Normal(0, 10),  sigma ~ Uniform(0, 10)
    y[i] ~ Normal(x[i] @ weight.T + bias, sigma)

The data are synthetic with a known truth. Two fits with SVI and an
``AutoNormal`` guide built on the module itself:

1. ``sigma`` conditioned at its true value: the model is conjugate, and the
   fitted means and sds are compared with the closed form (mean-field
   optimum: the exact posterior means and sds ``1 / sqrt(diag(precision))``,
   Bishop 2006, PRML section 10.1.2);
2. ``sigma`` sampled, as in the tutorial: its posterior mean is compared
   with the truth, and ``Predictive`` gives 90% intervals of new data.

Run ``python examples/bayesian_modules.py --help`` for options.
"""

import argparse

import torch
from torch import nn

import distributions as dist
import ppl
from inference import SVI, Predictive, Trace_ELBO
from inference.autoguide import AutoNormal
from inference.optim import ClippedAdam

__all__ = ["BayesianRegression", "make_data", "conjugate_posterior", "fit", "main"]

WEIGHT, BIAS = torch.tensor([1.0, -2.0, 0.5]), 0.3


class BayesianRegression(ppl.nn.Module):
    """A linear layer with Normal priors on its weight and bias, and a sampled noise."""

    def __init__(self, in_features, out_features=1):
        super().__init__()
        self.linear = ppl.nn.Module[nn.Linear](in_features, out_features)
        weight_prior = dist.Normal(0.0, 1.0).expand([out_features, in_features]).to_event(2)
        self.linear.weight = ppl.nn.Sample(weight_prior)
        self.linear.bias = ppl.nn.Sample(dist.Normal(0.0, 10.0).expand([out_features]).to_event(1))

    def forward(self, x, y=None):
        sigma = ppl.sample("sigma", dist.Uniform(0.0, 10.0))
        mean = self.linear(x).squeeze(-1)
        with ppl.plate("data", x.shape[0]):
            ppl.sample("obs", dist.Normal(mean, sigma), obs=y)
        return mean


def make_data(num_data, noise, seed=0):
    """Synthetic inputs ``(num_data, 3)`` and targets from the known weight and bias."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(num_data, 3, generator=generator)
    y = x @ WEIGHT + BIAS + noise * torch.randn(num_data, generator=generator)
    return x, y


def conjugate_posterior(x, y, noise):
    """The exact posterior of ``(weight, bias)`` given the noise: means, sds, mean-field sds."""
    design = torch.cat([x, torch.ones(len(x), 1)], 1)
    prior_precision = torch.diag(torch.tensor([1.0, 1.0, 1.0, 0.01]))
    precision = prior_precision + design.T @ design / noise**2
    mean = torch.linalg.solve(precision, design.T @ y / noise**2)
    sd = torch.linalg.inv(precision).diag().sqrt()
    return mean, sd, precision.diag().rsqrt()


def fit(model, x, y, num_steps, lr):
    """Fits ``AutoNormal(model)``; returns the guide."""
    guide = AutoNormal(model)
    # The step size decays 100x over the run, so the last iterates settle near the optimum.
    optim = ClippedAdam({"lr": lr, "lrd": 0.01 ** (1 / num_steps)})
    svi = SVI(model, guide, optim, Trace_ELBO())
    for _ in range(num_steps):
        svi.step(x, y)
    return guide


def _coefficients(guide):
    median = guide.median()
    store = ppl.get_param_store()
    mean = torch.cat([median["linear.weight"].flatten(), median["linear.bias"]])
    scales = [store[f"{guide.prefix}.scales.linear.{k}"].flatten() for k in ("weight", "bias")]
    return mean.detach(), torch.cat(scales).detach()


def _table(fitted_mean, fitted_sd, mean, sd_mf, sd):
    rows = [f"{'':<10}{'fit mean':>10}{'exact':>10}{'fit sd':>10}{'mf sd':>10}{'exact sd':>10}"]
    names = ["weight[0]", "weight[1]", "weight[2]", "bias"]
    for i, name in enumerate(names):
        values = (fitted_mean[i], mean[i], fitted_sd[i], sd_mf[i], sd[i])
        rows.append(f"{name:<10}" + "".join(f"{v.item():>10.3f}" for v in values))
    return "\n".join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--num-steps", type=int, default=1000, help="SVI steps per fit")
    parser.add_argument("--num-data", type=int, default=50, help="synthetic data points")
    parser.add_argument("--noise", type=float, default=1.0, help="true noise scale sigma")
    parser.add_argument("--lr", type=float, default=0.1, help="initial Adam learning rate")
    parser.add_argument("--num-samples", type=int, default=500, help="posterior draws")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args(argv)
    x, y = make_data(args.num_data, args.noise, args.seed)

    ppl.clear_param_store()
    ppl.set_rng_seed(args.seed)
    known = ppl.handlers.condition(BayesianRegression(3), data={"sigma": torch.tensor(args.noise)})
    fitted_mean, fitted_sd = _coefficients(fit(known, x, y, args.num_steps, args.lr))
    mean, sd, sd_mf = conjugate_posterior(x, y, args.noise)
    print(f"1. known sigma = {args.noise}: AutoNormal fit against the conjugate posterior")
    print(_table(fitted_mean, fitted_sd, mean, sd_mf, sd))

    ppl.clear_param_store()
    ppl.set_rng_seed(args.seed)
    model = BayesianRegression(3)
    guide = fit(model, x, y, args.num_steps, args.lr)
    samples = Predictive(model, guide=guide, num_samples=args.num_samples)(x)
    sigma = samples["sigma"].mean().item()
    lo, hi = samples["obs"].quantile(torch.tensor([0.05, 0.95]), dim=0)
    coverage = ((lo <= y) & (y <= hi)).float().mean().item()
    print(
        f"2. sampled sigma: posterior mean {sigma:.3f} (truth {args.noise}); "
        f"{coverage:.0%} of the data inside their 90% predictive interval"
    )
    return {
        "fitted_mean": fitted_mean,
        "fitted_sd": fitted_sd,
        "exact_mean": mean,
        "exact_sd": sd,
        "mean_field_sd": sd_mf,
        "sigma": sigma,
        "coverage": coverage,
        "samples": samples,
    }


if __name__ == "__main__":
    main()
