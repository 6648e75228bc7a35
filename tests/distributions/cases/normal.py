"""Cases for the Normal family (the template the other case modules follow)."""

import scipy.stats

from tests.distributions.cases import Case

CASES = [
    Case(
        "Normal",
        {"loc": [0.0, 1.5, -3.0], "scale": [1.0, 0.3, 4.0]},
        scipy=lambda p: scipy.stats.norm(p["loc"], p["scale"]),
        grad_params=("loc", "scale"),
    ),
    Case(
        "Normal",
        {"loc": 2.0, "scale": 0.5},
        scipy=lambda p: scipy.stats.norm(p["loc"], p["scale"]),
        label="scalar",
    ),
]
