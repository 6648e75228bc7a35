"""Cases for ``GeneralizedPareto``: positive, zero and negative concentration, light and heavy."""

import scipy.stats

from tests.distributions.cases import Case


def _genpareto(p):
    return scipy.stats.genpareto(p["concentration"], p["loc"], p["scale"])


# torch 2.13's GeneralizedPareto.log_prob and cdf fail on float64 parameters
# (they compare with a float32 zero in torch.isclose), and the table builds its
# torch oracle in float64, so the cases carry no torch oracle here; scipy checks
# both dtypes and test_generalized_pareto.py compares with torch in float32.
_NO_TORCH = ""

_TORCH_NAN = "torch returns NaN where the defining integral diverges to +inf"

CASES = [
    Case(
        "GeneralizedPareto",
        {"loc": [0.0, 1.0, -2.0], "scale": [1.0, 2.0, 0.5], "concentration": [0.3, 0.0, -0.4]},
        scipy=_genpareto,
        torch_name=_NO_TORCH,
    ),
    Case(
        "GeneralizedPareto",
        {"loc": [0.5, -1.0], "scale": [1.5, 0.7], "concentration": [0.1, -0.3]},
        scipy=_genpareto,
        torch_name=_NO_TORCH,
        grad_params=("loc", "scale", "concentration"),
        label="grad",
    ),
    Case(
        "GeneralizedPareto",
        {"loc": 0.0, "scale": 1.0, "concentration": [1e-9, -1e-9, 1e-4]},
        scipy=_genpareto,
        torch_name=_NO_TORCH,
        ks=False,
        label="near-zero",
    ),
    Case(
        "GeneralizedPareto",
        {"loc": 1.0, "scale": [1.0, 2.0], "concentration": [0.7, 1.5]},
        scipy=_genpareto,
        torch_name=_NO_TORCH,
        tol32=5e-4,
        label="heavy",
        extra={"torch_wrong": dict.fromkeys(("mean", "variance", "stddev"), _TORCH_NAN)},
    ),
    Case(
        "GeneralizedPareto",
        {"loc": 0.0, "scale": 3.0, "concentration": [-1.0, -2.5]},
        scipy=_genpareto,
        torch_name=_NO_TORCH,
        label="bounded-u-shape",
        extra={
            "torch_wrong": {
                "mode": "torch gives loc, but for c < -1 the density grows without bound "
                "toward the upper end of the support"
            }
        },
    ),
]
