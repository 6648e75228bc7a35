"""A hidden Markov model of ion-channel recordings, with the hidden states summed out exactly.

A single ion channel switches between closed, partly open and open states; a
patch-clamp amplifier records its current with Gaussian noise. Several
recording sweeps are simulated from a sticky three-state chain::

    x[s, 0] ~ Categorical(P[0])           (every sweep starts closed)
    x[s, t] ~ Categorical(P[x[s, t-1]])
    y[s, t] ~ Normal(level[x[s, t]], noise)

The model marks the states ``infer={"enumerate": "parallel"}`` and steps
through time under ``ppl.markov``, so ``TraceEnum_ELBO`` computes the exact
log-likelihood of every sweep (the forward algorithm, found by variable
elimination) with memory independent of the length. The transition matrix,
levels and noise are fitted by maximum likelihood with SVI (the guide is
empty), then ``infer_discrete(temperature=0)`` decodes the most likely state
path (Viterbi) and we compare it with the simulated truth.

Run ``python examples/hmm.py --help`` for options.
"""

import argparse
import pathlib

import matplotlib.pyplot as plt
import torch

import distributions as dist
import ppl
from distributions import constraints
from inference import SVI, TraceEnum_ELBO, infer_discrete
from inference.optim import Adam

__all__ = ["simulate", "model", "guide", "decode", "main"]

TRUE_TRANS = torch.tensor([[0.92, 0.06, 0.02], [0.08, 0.84, 0.08], [0.03, 0.07, 0.90]])
TRUE_LEVELS = torch.tensor([0.0, 1.6, 3.0])  # picoamperes
TRUE_NOISE = 0.45


def simulate(num_sweeps, length, seed=0):
    """``(states, currents)``, each of shape ``(num_sweeps, length)``, from the true chain."""
    generator = torch.Generator().manual_seed(seed)
    states = torch.zeros(num_sweeps, length, dtype=torch.long)
    x = torch.zeros(num_sweeps, dtype=torch.long)
    for t in range(length):
        x = torch.multinomial(TRUE_TRANS[x], 1, generator=generator).squeeze(-1)
        states[:, t] = x
    noise = TRUE_NOISE * torch.randn(num_sweeps, length, generator=generator)
    return states, TRUE_LEVELS[states] + noise


def model(currents):
    """The three-state HMM; states enumerated, one markov step per time point."""
    num_sweeps, length = currents.shape
    sticky = 0.8 * torch.eye(3) + 0.2 / 3
    trans = ppl.param("trans", sticky, constraint=constraints.simplex)
    quantiles = torch.quantile(currents.flatten(), torch.tensor([0.1, 0.5, 0.9]))
    levels = ppl.param("levels", quantiles)
    noise = ppl.param("noise", torch.tensor(1.0), constraint=constraints.positive)
    states = []
    with ppl.plate("sweeps", num_sweeps, dim=-1):
        x = torch.tensor(0)
        for t in ppl.markov(range(length)):
            x = ppl.sample(f"x_{t}", dist.Categorical(trans[x]), infer={"enumerate": "parallel"})
            ppl.sample(f"y_{t}", dist.Normal(levels[x], noise), obs=currents[:, t])
            states.append(x)
    return states


def guide(currents):
    """Empty: the parameters are fitted by maximum likelihood, the states summed out."""


def fit(currents, steps, lr):
    """Maximizes the exact log-likelihood; returns the per-step losses."""
    ppl.clear_param_store()
    svi = SVI(model, guide, Adam({"lr": lr}), TraceEnum_ELBO(max_plate_nesting=1))
    return svi.run(steps, currents, progress=False)


def decode(currents):
    """The Viterbi path of every sweep under the fitted parameters, ``(sweeps, length)``."""
    with torch.no_grad():
        path = infer_discrete(model, first_available_dim=-2, temperature=0)(currents)
    return torch.stack([x.expand(currents.shape[0]) for x in path], dim=-1)


def _plot(currents, states, path, losses, out):
    levels = ppl.get_param_store()["levels"].detach()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6), gridspec_kw={"height_ratios": [2, 1]})
    ax1.plot(currents[0], color="0.6", lw=0.8, label="recorded current")
    ax1.step(range(currents.shape[1]), TRUE_LEVELS[states[0]], where="mid", label="true level")
    ax1.step(range(currents.shape[1]), levels[path[0]], where="mid", ls="--", label="Viterbi")
    ax1.set(xlabel="time step", ylabel="current (pA)", title="sweep 0")
    ax1.legend(loc="upper right", fontsize=8)
    ax2.plot(losses)
    ax2.set(xlabel="SVI step", ylabel="-log-likelihood", title="exact marginal likelihood")
    fig.tight_layout()
    path_png = out / "hmm.png"
    fig.savefig(path_png)
    plt.close(fig)
    return path_png


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-sweeps", type=int, default=8, help="recorded sweeps")
    parser.add_argument("--length", type=int, default=60, help="time points per sweep")
    parser.add_argument("--num-steps", type=int, default=100, help="SVI steps")
    parser.add_argument("--lr", type=float, default=0.05, help="Adam learning rate")
    parser.add_argument("--out", default="examples/output", help="folder for the PNG")
    args = parser.parse_args(argv)
    ppl.set_rng_seed(0)
    states, currents = simulate(args.num_sweeps, args.length)
    losses = fit(currents, args.num_steps, args.lr)
    path = decode(currents)
    store = ppl.get_param_store()
    levels = store["levels"].detach()
    trans = store["trans"].detach()
    noise = float(store["noise"].detach())
    accuracy = (path == states).double().mean().item()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    png = _plot(currents, states, path, losses, out)
    print(
        f"loss: {losses[0]:.1f} -> {losses[-1]:.1f} (-log-likelihood of {currents.numel()} points)"
    )
    true_levels = [round(v, 2) for v in TRUE_LEVELS.tolist()]
    print(f"levels: {[round(v, 2) for v in levels.tolist()]} (true {true_levels})")
    print(f"noise: {noise:.3f} (true {TRUE_NOISE})")
    print(
        f"stay probabilities: {[round(v, 2) for v in trans.diagonal().tolist()]} "
        f"(true {[round(v, 2) for v in TRUE_TRANS.diagonal().tolist()]})"
    )
    print(f"Viterbi path agrees with the true states at {100 * accuracy:.1f}% of time points")
    return {
        "losses": losses,
        "levels": levels,
        "noise": noise,
        "trans": trans,
        "accuracy": accuracy,
        "png": png,
    }


if __name__ == "__main__":
    main()
