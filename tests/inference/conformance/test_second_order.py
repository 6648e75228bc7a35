"""Second derivatives: the expected Hessian of ``differentiable_loss`` is the exact one.

Issue 13 asks that derivatives of every order of the surrogate be unbiased
(the DiCE construction: Foerster et al. 2018, "DiCE: The Infinitely
Differentiable Monte Carlo Estimator", arXiv 1802.05098). Each draw is the
full Hessian of one call's loss in the guide's unconstrained parameters
(``torch.autograd.grad`` with ``create_graph=True``, then once more per
component); the mean over seeded draws is compared entry by entry with the
Hessian of the exact ELBO (:mod:`.oracle`) by the t-test of :mod:`.sampling`.
"""

import pytest
import torch

from .oracle import exact_hessian, guide_param_names, hessian_of, param_leaves
from .programs import PROGRAMS
from .sampling import ESTIMATORS, REPEATS, VECTOR_PARTICLES, assert_unbiased

HESSIAN_PROGRAMS = [
    "bernoulli_plate[vectorized]",
    "bernoulli_normal[reparam]",
    "bernoulli_normal[score]",
    "normal[score]",
]
HESSIAN_CASES = [
    (name, estimator, "none") for name in HESSIAN_PROGRAMS for estimator in ("Trace", "TraceGraph")
] + [
    ("bernoulli_plate[vectorized]", "TraceMeanField", "none"),
    ("normal[score]", "TraceMeanField", "none"),
    ("bernoulli_normal[score]", "JitTraceGraph", "none"),
    # Baselines must keep every order unbiased too (Mao et al. 2019, "A Baseline for Any
    # Order Gradient Estimation in Stochastic Computation Graphs", ICML).
    ("bernoulli_plate[vectorized]", "Trace", "decaying_avg"),
    ("bernoulli_normal[score]", "TraceGraph", "nn"),
    ("normal[score]", "Trace", "value"),
]


def _spec(name):
    return next(s for s in PROGRAMS if s.name == name)


@pytest.mark.parametrize("name, estimator, baseline", HESSIAN_CASES)
def test_expected_hessian_is_the_exact_hessian(name, estimator, baseline):
    program = _spec(name).build(baseline)
    program.guide(0)
    names = guide_param_names(program.guide, 0)
    exact = exact_hessian(lambda: program.exact_elbo(0), names).reshape(-1)
    d = int(exact.numel() ** 0.5)
    labels = [f"H[{i},{j}]" for i in range(d) for j in range(d)]
    elbo = ESTIMATORS[estimator](num_particles=VECTOR_PARTICLES, vectorize_particles=True)
    leaves = param_leaves(names)
    torch.manual_seed(11)
    draws = torch.stack(
        [
            hessian_of(
                lambda: elbo.differentiable_loss(program.model, program.guide, 0), leaves
            ).reshape(-1)
            for _ in range(REPEATS)
        ]
    )
    what = f"Hessian of {name} under {estimator}_ELBO, baseline {baseline}"
    assert_unbiased(draws, exact, labels, what)
