"""Distribution benchmarks: construct + log_prob / rsample, ours vs torch vs hand-written.

Small cases use scalar or small batched parameters with validation on (the
default in both libraries) and off; large cases use 1e6 elements and compare
with a minimal hand-written torch expression of the same density.
"""

import math

import torch
import torch.distributions as tdist

import distributions as ours
from benchmarks.harness import Case

__all__ = ["cases"]

LOG_2PI = math.log(2 * math.pi)


def _pair(name, make, score, hand=None, note=""):
    """Times ``score(make(lib))`` for our library and torch's, plus an optional hand expression."""
    peers = {"ours": lambda: score(make(ours)), "torch": lambda: score(make(tdist))}
    if hand is not None:
        peers["hand"] = hand
    return Case("distributions", name, peers, note)


def _normal_cases(validate):
    loc, scale, x = torch.tensor(0.3), torch.tensor(1.2), torch.tensor(0.7)

    def hand():
        return -0.5 * ((x - loc) / scale) ** 2 - scale.log() - 0.5 * LOG_2PI

    suffix = "validate" if validate else "no-validate"
    return [
        _pair(
            f"Normal scalar construct+log_prob ({suffix})",
            lambda lib: lib.Normal(loc, scale, validate_args=validate),
            lambda d: d.log_prob(x),
            hand,
        ),
        _pair(
            f"Normal scalar construct+rsample ({suffix})",
            lambda lib: lib.Normal(loc, scale, validate_args=validate),
            lambda d: d.rsample(),
            lambda: loc + scale * torch.randn(()),
        ),
    ]


def _family_cases():
    """Small cases for the other families, included when our family exists."""
    x10 = torch.randn(10)
    specs = [
        ("Gamma", lambda lib: lib.Gamma(torch.tensor(2.0), torch.tensor(3.0)), torch.tensor(0.5)),
        ("Bernoulli", lambda lib: lib.Bernoulli(probs=torch.tensor(0.3)), torch.tensor(1.0)),
        (
            "Categorical K=10",
            lambda lib: lib.Categorical(logits=x10),
            torch.tensor(3),
        ),
        (
            "Dirichlet K=10",
            lambda lib: lib.Dirichlet(torch.ones(10)),
            torch.full((10,), 0.1),
        ),
        (
            "MultivariateNormal dim 10 batch 1000",
            lambda lib: lib.MultivariateNormal(torch.zeros(1000, 10), scale_tril=torch.eye(10)),
            torch.randn(1000, 10),
        ),
    ]
    cases = []
    for name, make, value in specs:
        family = name.split()[0]
        if hasattr(ours, family):
            cases.append(
                _pair(f"{name} construct+log_prob", make, lambda d, v=value: d.log_prob(v))
            )
    tr_x = torch.tensor(1.5)
    cases.append(
        _pair(
            "TransformedDistribution(Normal, Exp) construct+log_prob",
            lambda lib: lib.TransformedDistribution(
                lib.Normal(torch.tensor(0.0), torch.tensor(1.0)), [lib.transforms.ExpTransform()]
            ),
            lambda d: d.log_prob(tr_x),
        )
    )
    if hasattr(ours, "kl_divergence"):
        p_args, q_args = (torch.zeros(10), torch.ones(10)), (torch.ones(10), torch.full((10,), 2.0))
        cases.append(
            Case(
                "distributions",
                "kl_divergence(Normal, Normal) batch 10",
                {
                    "ours": lambda: ours.kl_divergence(ours.Normal(*p_args), ours.Normal(*q_args)),
                    "torch": lambda: tdist.kl_divergence(
                        tdist.Normal(*p_args), tdist.Normal(*q_args)
                    ),
                },
            )
        )
    return cases


def _large_cases():
    n = 1_000_000
    loc, scale = torch.randn(n), torch.rand(n) + 0.5
    x = torch.randn(n)

    def hand_lp():
        return -0.5 * ((x - loc) / scale) ** 2 - scale.log() - 0.5 * LOG_2PI

    def hand_rs():
        return loc + scale * torch.randn(n)

    return [
        Case(
            "distributions-large",
            "Normal log_prob 1e6",
            {
                "ours": lambda: ours.Normal(loc, scale, validate_args=False).log_prob(x),
                "torch": lambda: tdist.Normal(loc, scale, validate_args=False).log_prob(x),
                "hand": hand_lp,
            },
        ),
        Case(
            "distributions-large",
            "Normal rsample 1e6",
            {
                "ours": lambda: ours.Normal(loc, scale, validate_args=False).rsample(),
                "torch": lambda: tdist.Normal(loc, scale, validate_args=False).rsample(),
                "hand": hand_rs,
            },
        ),
    ]


def cases():
    """Every distribution benchmark case available with the families present."""
    return _normal_cases(True) + _normal_cases(False) + _family_cases() + _large_cases()
