"""Monte Carlo draws of the estimators and the statistics that judge them.

One *draw* is one call of ``elbo.differentiable_loss`` (averaging its
particles), recorded as ``[loss, d loss / d leaves...]``. A check runs
``R`` seeded draws and compares their mean with the exact value per
component by a t-test on the Monte Carlo standard error: under a correct
(unbiased) estimator the statistic follows Student's t with ``R - 1``
degrees of freedom, since the draws are independent (a decaying-average
baseline makes later draws depend on earlier costs, but each draw stays
conditionally unbiased given the past, which is what the test needs).

False alarms: every comparison in the harness (loss value and gradient
components, Hessian entries, variance ratios) uses the threshold of a
two-sided test at ``FAMILY_ALPHA / MAX_COMPARISONS``; ``test_budget.py``
checks that the harness makes at most ``MAX_COMPARISONS`` comparisons, so by
Bonferroni the chance that a correct estimator fails anywhere in the harness
is below ``FAMILY_ALPHA = 1e-3``. The seeds are fixed, so a passing run keeps
passing.
"""

import functools
import warnings
import zlib

import torch
from scipy import stats

import ppl
from inference import (
    JitTrace_ELBO,
    JitTraceGraph_ELBO,
    Trace_ELBO,
    TraceGraph_ELBO,
    TraceMeanField_ELBO,
)

from .oracle import exact_loss_and_grad, guide_param_names, param_leaves

__all__ = [
    "ESTIMATORS",
    "FAMILY_ALPHA",
    "MAX_COMPARISONS",
    "assert_unbiased",
    "draws",
    "exact",
    "t_threshold",
]

FAMILY_ALPHA = 1e-3
MAX_COMPARISONS = 3000
REPEATS = 16
VECTOR_PARTICLES = 2000
LOOP_PARTICLES = 8

ESTIMATORS = {
    "Trace": Trace_ELBO,
    "TraceGraph": TraceGraph_ELBO,
    "TraceMeanField": TraceMeanField_ELBO,
    "JitTrace": JitTrace_ELBO,
    "JitTraceGraph": JitTraceGraph_ELBO,
}


def t_threshold(repeats):
    """The two-sided t quantile at ``FAMILY_ALPHA / MAX_COMPARISONS`` for ``repeats`` draws."""
    return float(stats.t.ppf(1 - FAMILY_ALPHA / (2 * MAX_COMPARISONS), repeats - 1))


def make_elbo(estimator, program):
    """The estimator with many vectorized particles, or a particle loop where the program
    has Python control flow on latents (which vectorization cannot run)."""
    cls = ESTIMATORS[estimator]
    if program.vectorizable:
        return cls(num_particles=VECTOR_PARTICLES, vectorize_particles=True)
    return cls(num_particles=LOOP_PARTICLES)


def _seed(*keys):
    return zlib.crc32(repr(keys).encode())


@functools.cache
def exact(spec, baseline="none"):
    """``(arg -> [-ELBO, grad...], component labels)`` from the oracle."""
    ppl.clear_param_store()
    program = spec.build(baseline)
    out = {}
    for arg in program.args:
        program.guide(arg)
        names = guide_param_names(program.guide, arg)
        out[arg] = exact_loss_and_grad(lambda a=arg: program.exact_elbo(a), names)
    labels = ["loss"] + [
        f"grad {name}[{i}]"
        for name, leaf in zip(names, param_leaves(names))
        for i in range(leaf.numel())
    ]
    ppl.clear_param_store()
    return out, tuple(labels)


@functools.cache
def draws(spec, estimator, baseline="none", repeats=REPEATS):
    """``arg -> (R, 1 + d)`` draws of ``[loss, grad...]`` on one ELBO instance.

    Every repeat runs each of the program's args in turn on the same
    instance (so a graph cached for one arg is reused for the other). The
    only warnings allowed are ones naming a site whose value leaves torch
    (the conservative fallback of a graph estimator).
    """
    ppl.clear_param_store()
    torch.manual_seed(_seed(spec.name, estimator, baseline))
    program = spec.build(baseline)
    elbo = make_elbo(estimator, program)
    rows = {arg: [] for arg in program.args}
    names = {}
    for arg in program.args:
        program.guide(arg)
        names[arg] = guide_param_names(program.guide, arg)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(repeats):
            for arg in program.args:
                rows[arg].append(_one_draw(elbo, program, arg, names[arg]))
    _check_warnings(caught, program)
    ppl.clear_param_store()
    return {arg: torch.stack(r) for arg, r in rows.items()}


def _one_draw(elbo, program, arg, names):
    loss = elbo.differentiable_loss(program.model, program.guide, arg)
    leaves = param_leaves(names)
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    flat = [
        torch.zeros(leaf.numel(), dtype=torch.float64) if g is None else g.reshape(-1).double()
        for g, leaf in zip(grads, leaves)
    ]
    return torch.cat([loss.detach().reshape(1).double()] + flat)


def _check_warnings(caught, program):
    for w in caught:
        message = str(w.message)
        if any(site in message for site in program.escapes):
            continue
        raise AssertionError(
            f"{program.name}: unexpected {w.category.__name__} from the estimator: {message}"
        )


def assert_unbiased(samples, expected, labels, what):
    """Fails when any component's mean is beyond the t threshold of ``expected``.

    Args:
        samples: ``(R, k)`` draws.
        expected: ``(k,)`` exact values.
        labels: ``k`` component names for the message.
        what: the check's name.
    """
    r = samples.shape[0]
    mean = samples.mean(0)
    se = samples.std(0) / r**0.5
    # Float64 rounding only: where the estimator is exact (zero variance) the
    # mean must equal the exact value to about 1e-9.
    slack = 1e-9 * (1 + expected.abs())
    z = (mean - expected).abs() / (se + slack)
    limit = t_threshold(r)
    bad = [i for i in range(len(labels)) if z[i] > limit]
    if bad:
        rows = "\n".join(
            f"  {labels[i]}: observed {mean[i].item():.5g} +- {se[i].item():.2g} (se), "
            f"exact {expected[i].item():.5g}, t = {z[i].item():.1f}"
            for i in bad
        )
        raise AssertionError(f"{what}: biased beyond t > {limit:.2f} ({r} draws):\n{rows}")
