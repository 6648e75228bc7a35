"""Cases for Categorical and Bernoulli (the discrete families the runtime relies on)."""

import scipy.stats

from tests.distributions.cases import Case

CASES = [
    Case("Categorical", {"probs": [0.1, 0.2, 0.3, 0.4]}, ks=False, discrete=True, label="probs"),
    Case(
        "Categorical",
        {"logits": [[0.0, 1.0, -1.0], [2.0, 0.5, 0.1]]},
        ks=False,
        discrete=True,
        label="logits-batched",
    ),
    Case(
        "Bernoulli",
        {"probs": [0.1, 0.5, 0.9]},
        scipy=lambda p: scipy.stats.bernoulli(p["probs"]),
        ks=False,
        discrete=True,
        label="probs",
    ),
    Case(
        "Bernoulli",
        {"logits": [-2.0, 0.3]},
        ks=False,
        discrete=True,
        label="logits",
    ),
]

CASES += [
    Case("OneHotCategorical", {"probs": [0.1, 0.2, 0.3, 0.4]}, ks=False, discrete=True),
    Case(
        "OneHotCategorical",
        {"logits": [[0.0, 1.0, -1.0], [2.0, 0.5, 0.1]]},
        ks=False,
        discrete=True,
        label="logits",
    ),
    Case(
        "OneHotCategoricalStraightThrough",
        {"probs": [0.3, 0.7]},
        ks=False,
        discrete=True,
    ),
    Case(
        "Geometric",
        {"probs": [0.2, 0.7]},
        scipy=lambda p: scipy.stats.geom(p["probs"], loc=-1),
        ks=False,
        discrete=True,
    ),
    Case("Geometric", {"logits": [-1.0, 0.5]}, ks=False, discrete=True, label="logits"),
]
