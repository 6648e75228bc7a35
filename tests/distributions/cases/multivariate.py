"""Cases for the multivariate families (event_shape != ()).

scipy.stats oracles take no part here (the generic scipy tests are univariate);
``tests/distributions/test_multivariate.py`` compares with scipy.stats directly.
"""

from tests.distributions.cases import Case

_COV = [[2.0, 0.3, -0.4], [0.3, 1.0, 0.2], [-0.4, 0.2, 1.5]]
_COV_B = [[1.0, -0.5, 0.1], [-0.5, 3.0, 0.7], [0.1, 0.7, 0.8]]
_TRIL = [[1.5, 0.0, 0.0], [0.4, 0.7, 0.0], [-0.3, 0.2, 1.1]]

CASES = [
    Case(
        "MultivariateNormal",
        {"loc": [[0.0, 1.0, -1.0], [2.0, 0.5, 0.0]], "covariance_matrix": [_COV, _COV_B]},
        ks=False,
        grad_params=("loc", "covariance_matrix"),
        label="covariance",
    ),
    Case(
        "MultivariateNormal",
        {"loc": [0.5, -1.0, 2.0], "precision_matrix": _COV_B},
        ks=False,
        grad_params=("loc", "precision_matrix"),
        label="precision",
    ),
    Case(
        "MultivariateNormal",
        {"loc": [[0.0, 1.0, -1.0], [2.0, 0.5, 0.0], [1.0, 1.0, 1.0]], "scale_tril": _TRIL},
        ks=False,
        grad_params=("loc", "scale_tril"),
        label="scale_tril-broadcast",
    ),
    Case(
        "LowRankMultivariateNormal",
        {
            "loc": [[0.0, 1.0, -1.0], [2.0, 0.5, 0.0]],
            "cov_factor": [[1.0, 0.5], [-0.3, 0.8], [0.2, -1.0]],
            "cov_diag": [[0.5, 1.0, 2.0], [1.5, 0.3, 0.7]],
        },
        ks=False,
        grad_params=("loc", "cov_factor", "cov_diag"),
    ),
    Case(
        "LogisticNormal",
        {"loc": [[0.0, 1.0, -1.0], [2.0, 0.5, 0.0]], "scale": [0.5, 1.0, 2.0]},
        ks=False,
    ),
    Case("LogisticNormal", {"loc": 0.3, "scale": 1.5}, ks=False, label="scalar"),
    # torch's Wishart.rsample warns "Singular sample detected." on every valid draw
    # (its check is inverted), which the suite turns into errors, so the generic
    # torch comparisons of Wishart live in test_multivariate.py instead.
    Case(
        "Wishart",
        {"df": [4.0, 6.5], "covariance_matrix": [_COV, _COV_B]},
        torch_name="",
        ks=False,
        grad_params=("df", "covariance_matrix"),
    ),
    Case(
        "Wishart",
        {"df": 3.5, "scale_tril": _TRIL},
        torch_name="",
        ks=False,
        grad_params=("scale_tril",),
        label="scale_tril",
    ),
    Case("LKJCholesky", {"dim": 2, "concentration": 1.0}, int_params=("dim",), ks=False),
    Case(
        "LKJCholesky",
        {"dim": 4, "concentration": [0.5, 1.0, 3.0]},
        int_params=("dim",),
        ks=False,
        label="batched",
    ),
    Case(
        "RelaxedOneHotCategorical",
        {"temperature": 0.7, "probs": [[0.1, 0.2, 0.7], [0.3, 0.3, 0.4]]},
        ks=False,
    ),
    Case(
        "RelaxedOneHotCategorical",
        {"temperature": [2.2], "logits": [0.5, -1.0, 0.0, 2.0]},
        ks=False,
        label="logits",
    ),
]
