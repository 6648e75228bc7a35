"""Cases for the location-scale and half families and the count families."""

import scipy.stats

from tests.distributions.cases import Case

CASES = [
    Case(
        "Cauchy",
        {"loc": [0.0, 1.0], "scale": [1.0, 2.5]},
        scipy=lambda p: scipy.stats.cauchy(p["loc"], p["scale"]),
        tol32=2e-4,
    ),
    Case(
        "HalfCauchy",
        {"scale": [1.0, 0.3]},
        scipy=lambda p: scipy.stats.halfcauchy(scale=p["scale"]),
    ),
    Case(
        "HalfNormal",
        {"scale": [1.0, 2.0]},
        scipy=lambda p: scipy.stats.halfnorm(scale=p["scale"]),
        grad_params=("scale",),
    ),
    Case(
        "Exponential",
        {"rate": [0.5, 3.0]},
        scipy=lambda p: scipy.stats.expon(scale=1 / p["rate"]),
        grad_params=("rate",),
    ),
    Case(
        "Uniform",
        {"low": [0.0, -2.0], "high": [1.0, 3.0]},
        scipy=lambda p: scipy.stats.uniform(p["low"], p["high"] - p["low"]),
        grad_params=("low", "high"),
    ),
    Case(
        "Laplace",
        {"loc": [0.0, 1.0], "scale": [1.0, 0.5]},
        scipy=lambda p: scipy.stats.laplace(p["loc"], p["scale"]),
        grad_params=("loc", "scale"),
    ),
    Case(
        "LogNormal",
        {"loc": [0.0, 0.5], "scale": [0.5, 1.0]},
        scipy=lambda p: scipy.stats.lognorm(p["scale"], scale=__import__("numpy").exp(p["loc"])),
        grad_params=("loc", "scale"),
        extra={"grad_tol": 0.05},
    ),
    Case(
        "Binomial",
        {"total_count": [10.0, 10.0], "probs": [0.2, 0.7]},
        scipy=lambda p: scipy.stats.binom(p["total_count"].astype(int), p["probs"]),
        discrete=True,
        ks=False,
    ),
    Case(
        "Binomial", {"total_count": [5.0], "logits": [0.3]}, discrete=True, ks=False, label="logits"
    ),
    Case(
        "Poisson",
        {"rate": [0.5, 4.0, 30.0]},
        scipy=lambda p: scipy.stats.poisson(p["rate"]),
        discrete=True,
        ks=False,
    ),
]

CASES += [
    Case(
        "Gumbel",
        {"loc": [0.0, 1.0], "scale": [1.0, 2.0]},
        scipy=lambda p: scipy.stats.gumbel_r(p["loc"], p["scale"]),
        grad_params=("loc", "scale"),
    ),
    Case(
        "Pareto",
        {"scale": [1.0, 2.0], "alpha": [3.0, 4.5]},
        scipy=lambda p: scipy.stats.pareto(p["alpha"], scale=p["scale"]),
        grad_params=("scale",),
        extra={"grad_tol": 0.05},
    ),
]

CASES += [
    Case(
        "Weibull",
        {"scale": [1.0, 2.0], "concentration": [1.5, 3.0]},
        scipy=lambda p: scipy.stats.weibull_min(p["concentration"], scale=p["scale"]),
        grad_params=("scale",),
        extra={"grad_tol": 0.05},
    ),
]

CASES += [
    Case(
        "Kumaraswamy",
        {"concentration1": [2.0, 1.5], "concentration0": [3.0, 2.5]},
        ks=False,
        grad_params=("concentration1", "concentration0"),
        extra={
            "grad_tol": 0.05,
            "torch_wrong": {"mode": "NaN for a, b > 1; test_location_scale checks ours"},
        },
    ),
]
