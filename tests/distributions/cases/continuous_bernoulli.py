"""Cases for ContinuousBernoulli (torch oracle only: scipy has no such law).

torch's cdf and icdf inside its ``lims`` (0.499, 0.501) are the uniform ones,
off by up to 2.5e-4, so the table keeps ``probs`` outside that window except
1/2 itself, where both are exact; test_continuous_bernoulli.py covers the window.
"""

from tests.distributions.cases import Case

CASES = [
    Case("ContinuousBernoulli", {"probs": [0.2, 0.5, 0.9]}, grad_params=("probs",), label="probs"),
    Case(
        "ContinuousBernoulli",
        {"logits": [[-3.0, 0.7], [2.5, -0.4]]},
        grad_params=("logits",),
        label="logits-batched",
    ),
    Case("ContinuousBernoulli", {"probs": [1e-3, 0.45, 0.51, 0.99]}, label="edges"),
]
