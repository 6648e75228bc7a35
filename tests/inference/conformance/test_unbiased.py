"""Every estimator's loss value and gradient are unbiased on every program.

For each case of :data:`.cases.UNBIASED_CASES`: the mean over seeded draws
of ``elbo.differentiable_loss(model, guide, arg)`` equals ``-ELBO`` and the
mean of its gradient in the guide's parameters equals the exact gradient
(:mod:`.oracle`), by the t-test of :mod:`.sampling` (family-wise false-alarm
rate below 1e-3 over the whole harness).
"""

import pytest

from .cases import UNBIASED_CASES, case_id
from .sampling import assert_unbiased, draws, exact


@pytest.mark.parametrize("case", UNBIASED_CASES, ids=case_id)
def test_value_and_gradient_are_unbiased(case):
    spec, estimator, baseline = case
    expected, labels = exact(spec)
    samples = draws(spec, estimator, baseline)
    for arg, values in expected.items():
        what = f"{spec.name} under {estimator}_ELBO, baseline {baseline}, arg={arg}"
        assert_unbiased(samples[arg], values, labels, what)
