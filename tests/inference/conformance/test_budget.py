"""The harness's size: the false-alarm budget holds, and every feature is covered.

:mod:`.sampling` sets each comparison's threshold at ``FAMILY_ALPHA /
MAX_COMPARISONS``; that bounds the family-wise false-alarm rate only while
the harness makes at most ``MAX_COMPARISONS`` comparisons, counted here.
"""

import ppl

from .cases import UNBIASED_CASES
from .oracle import guide_param_names, param_leaves
from .programs import ALL_BUILDERS, BASELINES, PROGRAMS
from .sampling import ESTIMATORS, MAX_COMPARISONS
from .test_second_order import HESSIAN_CASES
from .test_variance import VARIANCE_CASES

# Loss and gradient components of the regression tests: 9 checks of 2 components.
REGRESSION_COMPARISONS = 18


def _components(spec):
    ppl.clear_param_store()
    program = spec.build()
    total = 0
    for arg in program.args:
        program.guide(arg)
        total += 1 + sum(
            leaf.numel() for leaf in param_leaves(guide_param_names(program.guide, arg))
        )
    ppl.clear_param_store()
    return total


def test_comparisons_stay_within_the_false_alarm_budget():
    sizes = {spec: _components(spec) for spec in PROGRAMS}
    unbiased = sum(sizes[spec] for spec, _, _ in UNBIASED_CASES)
    hessian = 0
    for name, _, _ in HESSIAN_CASES:
        spec = next(s for s in PROGRAMS if s.name == name)
        hessian += (sizes[spec] - 1) ** 2
    variance = sum(len(spec.build().args) for spec in VARIANCE_CASES)
    total = unbiased + hessian + variance + REGRESSION_COMPARISONS
    assert total <= MAX_COMPARISONS, f"{total} comparisons; raise MAX_COMPARISONS"


def test_every_block_estimator_and_baseline_is_exercised():
    variants = {part for spec in PROGRAMS for part in spec.parts}
    assert variants == {(k, v) for k, (_, vs) in ALL_BUILDERS.items() for v in vs}
    pairs = {(estimator, baseline) for _, estimator, baseline in UNBIASED_CASES}
    assert pairs == {(e, b) for e in ESTIMATORS for b in BASELINES}, sorted(
        {(e, b) for e in ESTIMATORS for b in BASELINES} - pairs
    )
    assert len(PROGRAMS) >= 40
