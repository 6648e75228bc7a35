"""REINFORCE (the score-function estimator) on a contextual bandit.

A policy network maps a context to action probabilities; exactly as the
torch.distributions docs describe the estimator::

    probs = policy_network(state)
    m = Categorical(probs)
    action = m.sample()
    reward = env.step(action)
    loss = -m.log_prob(action) * reward
    loss.backward()

The environment (written in torch) has ``--contexts`` contexts and
``--actions`` arms; each context has one good arm paying 1 and the others pay
0, plus Gaussian noise and a constant ``--reward-offset``. ``--baseline``
subtracts a moving average of the reward, which keeps the estimator unbiased
and removes the offset's variance (Williams 1992,
"Simple statistical gradient-following algorithms for connectionist
reinforcement learning"). The learning curve is saved as a PNG.

Run ``python examples/reinforce.py --help`` for options.
"""

import argparse
import pathlib

import matplotlib.pyplot as plt
import torch
from tqdm.auto import tqdm

from distributions import Categorical

__all__ = ["Bandit", "train", "main"]


class Bandit:
    """A contextual bandit: one paying arm per context, Gaussian reward noise."""

    def __init__(self, contexts, actions, noise=0.5, offset=0.0, seed=0):
        generator = torch.Generator().manual_seed(seed)
        self.best = torch.randint(actions, (contexts,), generator=generator)
        self.contexts, self.noise, self.offset = contexts, noise, offset

    def observe(self, batch):
        """Draws a batch of contexts as one-hot rows and their indices."""
        index = torch.randint(self.contexts, (batch,))
        return torch.nn.functional.one_hot(index, self.contexts).float(), index

    def step(self, index, action):
        """The reward of each action in its context."""
        paid = (action == self.best[index]).float()
        return paid + self.offset + self.noise * torch.randn_like(paid)


def train(
    steps,
    batch=16,
    contexts=4,
    actions=5,
    baseline=False,
    lr=0.05,
    seed=0,
    offset=5.0,
    progress=False,
):
    """Trains a linear softmax policy; returns the mean reward (offset removed) per step."""
    torch.manual_seed(seed)
    env = Bandit(contexts, actions, offset=offset, seed=seed)
    policy = torch.nn.Linear(contexts, actions)
    optim = torch.optim.Adam(policy.parameters(), lr=lr)
    average, curve = 0.0, []
    bar = tqdm(range(steps), disable=not progress, desc=f"baseline={baseline}")
    for _ in bar:
        state, index = env.observe(batch)
        probs = torch.softmax(policy(state), dim=-1)
        m = Categorical(probs)
        action = m.sample()
        reward = env.step(index, action)
        advantage = reward - average if baseline else reward
        loss = (-m.log_prob(action) * advantage).mean()
        optim.zero_grad()
        loss.backward()
        optim.step()
        average = 0.9 * average + 0.1 * reward.mean().item()
        curve.append(reward.mean().item() - offset)
        if len(curve) % 20 == 0:
            bar.set_postfix(reward=f"{sum(curve[-20:]) / 20:.3f}")
    return curve


def _smooth(values, width=20):
    width = max(1, min(width, len(values)))
    kernel = torch.ones(width) / width
    padded = torch.tensor(values)
    return torch.nn.functional.conv1d(padded.view(1, 1, -1), kernel.view(1, 1, -1)).flatten()


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--num-steps", type=int, default=400, help="policy updates")
    parser.add_argument("--batch", type=int, default=16, help="contexts per update")
    parser.add_argument("--contexts", type=int, default=4, help="number of contexts")
    parser.add_argument("--actions", type=int, default=5, help="number of arms")
    parser.add_argument("--baseline", action="store_true", help="only run with the baseline")
    parser.add_argument(
        "--reward-offset",
        type=float,
        default=5.0,
        help="constant added to every reward: the best policy is unchanged, but without a "
        "baseline the estimator's variance grows with it",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.add_argument("--out", default="examples/output", help="folder for the PNG")
    args = parser.parse_args(argv)
    settings = [True] if args.baseline else [False, True]
    curves = {
        f"baseline={b}": train(
            args.num_steps,
            args.batch,
            args.contexts,
            args.actions,
            b,
            offset=args.reward_offset,
            progress=not args.no_progress,
        )
        for b in settings
    }
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, curve in curves.items():
        if curve:
            ax.plot(_smooth(curve).numpy(), label=name)
    ax.axhline(1.0, color="gray", linestyle=":", label="best possible")
    ax.set(xlabel="update", ylabel="mean reward (20-step average)", title="REINFORCE")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "reinforce.png")
    plt.close(fig)
    print(f"random policy earns {1 / args.actions:.3f} on average, the best possible 1.000")
    for name, curve in curves.items():
        if not curve:
            print(f"{name}: no updates (--num-steps 0)")
            continue
        n = min(20, len(curve))
        first, last = sum(curve[:n]) / n, sum(curve[-n:]) / n
        print(f"{name}: mean reward over the first {n} updates {first:.3f}, last {n} {last:.3f}")
    print(f"saved {out / 'reinforce.png'}")
    return {"curves": curves, "png": out / "reinforce.png"}


if __name__ == "__main__":
    main()
