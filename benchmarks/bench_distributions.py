"""Distribution benchmarks: construct + log_prob / rsample, ours vs torch vs hand-written.

Small cases use scalar or small batched parameters, each family timed with
validation on (the default in both libraries) and off, for construct+log_prob
and construct+rsample (construct+sample for the discrete families). Large
cases use 1e6 elements (1e5 draws over 1e4 categories for Categorical) and
compare with a minimal hand-written torch expression as well.
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


def _family_specs():
    """``(name, make(lib, validate), value, draw method)``: small cases of the other families."""
    x10 = torch.randn(10)
    return [
        (
            "Gamma",
            lambda lib, v: lib.Gamma(torch.tensor(2.0), torch.tensor(3.0), validate_args=v),
            torch.tensor(0.5),
            "rsample",
        ),
        (
            "Bernoulli",
            lambda lib, v: lib.Bernoulli(probs=torch.tensor(0.3), validate_args=v),
            torch.tensor(1.0),
            "sample",
        ),
        (
            "Categorical K=10",
            lambda lib, v: lib.Categorical(logits=x10, validate_args=v),
            torch.tensor(3),
            "sample",
        ),
        (
            "Dirichlet K=10",
            lambda lib, v: lib.Dirichlet(torch.ones(10), validate_args=v),
            torch.full((10,), 0.1),
            "rsample",
        ),
        (
            "MultivariateNormal dim 10 batch 1000",
            lambda lib, v: lib.MultivariateNormal(
                torch.zeros(1000, 10), scale_tril=torch.eye(10), validate_args=v
            ),
            torch.randn(1000, 10),
            "rsample",
        ),
        (
            "TransformedDistribution(Normal, Exp)",
            lambda lib, v: lib.TransformedDistribution(
                lib.Normal(torch.tensor(0.0), torch.tensor(1.0), validate_args=v),
                [lib.transforms.ExpTransform()],
                validate_args=v,
            ),
            torch.tensor(1.5),
            "rsample",
        ),
    ]


def _family_cases(validate):
    """construct+log_prob and construct+(r)sample per family present in our library."""
    suffix = "validate" if validate else "no-validate"
    cases = []
    for name, make, value, op in _family_specs():
        if not hasattr(ours, name.split("(")[0].split()[0]):
            continue

        def build(lib, make=make):
            return make(lib, validate)

        cases.append(
            _pair(
                f"{name} construct+log_prob ({suffix})",
                build,
                lambda d, v=value: d.log_prob(v),
            )
        )
        cases.append(
            _pair(f"{name} construct+{op} ({suffix})", build, lambda d, op=op: getattr(d, op)())
        )
    if hasattr(ours, "kl_divergence"):
        cases.append(_kl_case(validate, suffix))
    return cases


def _kl_case(validate, suffix):
    p_args, q_args = (torch.zeros(10), torch.ones(10)), (torch.ones(10), torch.full((10,), 2.0))

    def kl(lib):
        p = lib.Normal(*p_args, validate_args=validate)
        return lib.kl_divergence(p, lib.Normal(*q_args, validate_args=validate))

    return Case(
        "distributions",
        f"kl_divergence(Normal, Normal) batch 10 ({suffix})",
        {"ours": lambda: kl(ours), "torch": lambda: kl(tdist)},
    )


def _large_cases():
    n = 1_000_000
    loc, scale = torch.randn(n), torch.rand(n) + 0.5
    x = torch.randn(n)

    def hand_lp():
        return -0.5 * ((x - loc) / scale) ** 2 - scale.log() - 0.5 * LOG_2PI

    def hand_rs():
        return loc + scale * torch.randn(n)

    return (
        _categorical_large()
        + _family_large()
        + [_dirichlet_backward_large()]
        + [
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
    )


def _family_large():
    """log_prob of the issue-3 families at 1e6 numbers, against the textbook expression."""
    n = 1_000_000
    a, b, x = torch.rand(n) + 0.5, torch.rand(n) + 0.5, torch.rand(n) + 0.1
    c = torch.rand(n // 10, 10) + 0.5
    simplex = torch.rand(n // 10, 10).softmax(-1)
    loc, tril = torch.randn(n // 10, 10), torch.eye(10) + 0.1 * torch.randn(10, 10).tril(-1)
    v = torch.randn(n // 10, 10)
    mu, sigma = torch.randn(n), torch.rand(n) + 0.5

    def hand_gamma():
        return a * b.log() + (a - 1) * x.log() - b * x - torch.lgamma(a)

    def hand_dirichlet():
        return ((c - 1) * simplex.log()).sum(-1) + torch.lgamma(c.sum(-1)) - torch.lgamma(c).sum(-1)

    def hand_mvn():
        w = torch.linalg.solve_triangular(tril, (v - loc).T, upper=False).T
        log_det = tril.diagonal().log().sum()
        return -0.5 * (w * w).sum(-1) - log_det - 5 * LOG_2PI

    def hand_log_normal():
        log_x = x.log()
        return -0.5 * ((log_x - mu) / sigma) ** 2 - sigma.log() - log_x - 0.5 * LOG_2PI

    def transformed(lib):
        base = lib.Normal(mu, sigma, validate_args=False)
        exp = lib.transforms.ExpTransform()
        return lib.TransformedDistribution(base, [exp], validate_args=False).log_prob(x)

    def mvn(lib):
        return lib.MultivariateNormal(loc, scale_tril=tril, validate_args=False).log_prob(v)

    specs = [
        (
            "Gamma log_prob 1e6",
            lambda lib: lib.Gamma(a, b, validate_args=False).log_prob(x),
            hand_gamma,
        ),
        (
            "Dirichlet log_prob 1e5 x K=10",
            lambda lib: lib.Dirichlet(c, validate_args=False).log_prob(simplex),
            hand_dirichlet,
        ),
        ("MultivariateNormal log_prob 1e5 x dim 10", mvn, hand_mvn),
        ("TransformedDistribution(Normal, Exp) log_prob 1e6", transformed, hand_log_normal),
    ]
    return [
        Case(
            "distributions-large",
            name,
            {"ours": lambda f=f: f(ours), "torch": lambda f=f: f(tdist), "hand": hand},
        )
        for name, f, hand in specs
    ]


def _dirichlet_backward_large():
    """rsample + backward of 1e5 x K=3 Dirichlet draws: the implicit gradient's cost."""
    conc = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    weights = torch.arange(3.0)

    def backward(lib):
        x = lib.Dirichlet(conc.expand(100_000, 3), validate_args=False).rsample()
        (grad,) = torch.autograd.grad((x * weights).sum(), conc)
        return grad

    return Case(
        "distributions-large",
        "Dirichlet rsample+backward 1e5 x K=3",
        {"ours": lambda: backward(ours), "torch": lambda: backward(tdist)},
        "ours: exact implicit gradient (continued fraction); torch: ~1e-3 approximations",
    )


def _categorical_large():
    """1e5 draws over 1e4 categories; the hand peer is one ``torch.multinomial`` call."""
    draws, logits = 100_000, torch.randn(10_000)
    probs = logits.softmax(-1)
    return [
        Case(
            "distributions-large",
            "Categorical sample 1e5 draws, 1e4 categories",
            {
                "ours": lambda: ours.Categorical(logits=logits).sample((draws,)),
                "torch": lambda: tdist.Categorical(logits=logits).sample((draws,)),
                "hand": lambda: torch.multinomial(probs, draws, replacement=True),
            },
        )
    ]


def cases():
    """Every distribution benchmark case available with the families present."""
    small = [c for v in (True, False) for c in _normal_cases(v) + _family_cases(v)]
    return small + _large_cases()
