"""Cases for Multinomial and NegativeBinomial (issue 4, discrete families)."""

import scipy.stats

from tests.distributions.cases import Case

CASES = [
    Case(
        "Multinomial",
        {"total_count": 10, "probs": [[0.2, 0.3, 0.5], [0.0, 0.4, 0.6]]},
        scipy=lambda p: scipy.stats.multinomial(int(p["total_count"]), p["probs"]),
        int_params=("total_count",),
        discrete=True,
        ks=False,
        label="probs",
    ),
    Case(
        "Multinomial",
        {"total_count": 3, "logits": [0.5, -1.0, 0.0, 2.0]},
        int_params=("total_count",),
        discrete=True,
        ks=False,
        label="logits",
    ),
    Case(
        "NegativeBinomial",
        {"total_count": [5.0, 2.5, 0.3, 50.0], "probs": [0.3, 0.8, 0.6, 0.9953]},
        scipy=lambda p: scipy.stats.nbinom(p["total_count"], 1 - p["probs"]),
        discrete=True,
        ks=False,
        label="probs",
    ),
    Case(
        "NegativeBinomial",
        {"total_count": [4.0, 0.7], "logits": [-1.0, 1.5]},
        discrete=True,
        ks=False,
        label="logits",
    ),
]
