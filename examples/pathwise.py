"""Pathwise (reparameterized) gradients on a small continuous control task.

The policy is a Normal over a 1-d action given a context ``c``: its mean is
``w * c + b`` and its scale ``exp(log_s)``. The reward ``-(a - 2 c)^2`` is
differentiable in the action, so the pathwise estimator applies, exactly as
the torch.distributions docs describe it::

    m = Normal(*params)
    action = m.rsample()
    loss = -reward(action)
    loss.backward()

We also estimate the same gradient with the score-function estimator
(``-m.log_prob(action) * reward``) and compare the variance of the two
(Mohamed et al. 2020, "Monte Carlo Gradient Estimation in Machine Learning",
arXiv 1906.10652). Plots: learning curves and per-parameter gradient variance.

Run ``python examples/pathwise.py --help`` for options.
"""

import argparse
import math
import pathlib

import matplotlib.pyplot as plt
import torch
from tqdm.auto import tqdm

from distributions import Normal

__all__ = [
    "Policy",
    "reward",
    "gradient",
    "train",
    "gradient_variance",
    "exact_pathwise_variance",
    "main",
]


class Policy(torch.nn.Module):
    """A Gaussian policy whose mean is linear in the context."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(0.0))
        self.b = torch.nn.Parameter(torch.tensor(0.0))
        self.log_s = torch.nn.Parameter(torch.tensor(0.0))

    def forward(self, context):
        return Normal(self.w * context + self.b, self.log_s.exp())


def reward(context, action):
    """A differentiable reward: the action should be twice the context."""
    return -((action - 2.0 * context) ** 2)


def gradient(policy, context, estimator):
    """One-batch gradient of the expected reward's negative, by the chosen estimator."""
    policy.zero_grad()
    m = policy(context)
    if estimator == "pathwise":
        action = m.rsample()
        loss = -reward(context, action).mean()
    else:
        action = m.sample()
        loss = (-m.log_prob(action) * reward(context, action)).mean()
    loss.backward()
    return torch.stack([p.grad.detach().clone() for p in policy.parameters()])


def train(estimator, steps, batch, lr=0.05, seed=0, progress=False):
    """Trains a fresh policy; returns the mean reward after each step."""
    torch.manual_seed(seed)
    policy = Policy()
    optim = torch.optim.Adam(policy.parameters(), lr=lr)
    curve = []
    for _ in tqdm(range(steps), disable=not progress, desc=estimator):
        context = torch.randn(batch)
        gradient(policy, context, estimator)
        optim.step()
        with torch.no_grad():
            curve.append(reward(context, policy(context).sample()).mean().item())
    return curve


def gradient_variance(estimator, draws, batch, seed=0):
    """Variance of each parameter's gradient over ``draws`` independent batches."""
    torch.manual_seed(seed)
    policy = Policy()
    grads = torch.stack([gradient(policy, torch.randn(batch), estimator) for _ in range(draws)])
    return grads.var(0)


def exact_pathwise_variance(batch):
    """The pathwise gradient's variance at the initial policy, in closed form.

    There ``a = e`` with ``e ~ N(0, 1)``, and one context's gradient of
    ``(a - 2c)^2`` is ``2 (e - 2c) (c, 1, e)`` for ``(w, b, log_s)``; Gaussian
    moments give variances 36, 20 and 24, divided by the batch size.
    """
    return torch.tensor([36.0, 20.0, 24.0]) / batch


def _plot(curves, variances, path, batch):
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for name, curve in curves.items():
        ax1.plot(curve, label=name)
    ax1.set(xlabel="step", ylabel="mean reward", title="learning curves")
    ax1.legend()
    names = ["w", "b", "log_s"]
    width = 0.4
    for i, (name, var) in enumerate(variances.items()):
        ax2.bar([j + i * width for j in range(3)], var.tolist(), width, label=name)
    exact = exact_pathwise_variance(batch).tolist()
    ax2.scatter(
        range(3), exact, marker="_", s=400, color="black", zorder=3, label="exact (pathwise)"
    )
    ax2.set_xticks([j + width / 2 for j in range(3)], names)
    # A log axis (the estimators differ by an order of magnitude) with its
    # bottom fixed a decade under the smallest bar, so heights are not cut.
    low = min(v.min().item() for v in variances.values())
    high = max(v.max().item() for v in variances.values())
    if 0 < low <= high < math.inf:  # not with --draws 1 (no variance to plot)
        ax2.set_ylim(10 ** (math.floor(math.log10(low)) - 1), 10 * high)
    ax2.set(yscale="log", ylabel="gradient variance (log axis)", title="estimator variance")
    ax2.legend(ncol=3, fontsize=8, loc="upper center")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--num-steps", type=int, default=300, help="training steps")
    parser.add_argument("--batch", type=int, default=32, help="contexts per step")
    parser.add_argument("--draws", type=int, default=200, help="batches for the variance")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.add_argument("--out", default="examples/output", help="folder for the PNG")
    args = parser.parse_args(argv)
    progress = not args.no_progress
    curves = {
        e: train(e, args.num_steps, args.batch, progress=progress)
        for e in ("pathwise", "score-function")
    }
    variances = {e: gradient_variance(e, args.draws, args.batch) for e in curves}
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _plot(curves, variances, out / "pathwise.png", args.batch)
    print("the best policy (w=2, b=0, scale -> 0) earns reward 0; the initial one -5 on average")
    for e, curve in curves.items():
        n = min(20, len(curve))
        final = f"{sum(curve[-n:]) / n:7.3f}" if curve else "    n/a"
        var = ", ".join(f"{v:.3g}" for v in variances[e].tolist())
        print(f"{e:>15}: reward over the last {n} steps {final}, grad variance (w, b, log_s) {var}")
    print(f"saved {out / 'pathwise.png'}")
    return {"curves": curves, "variances": variances, "png": out / "pathwise.png"}


if __name__ == "__main__":
    main()
