"""Cases for the gamma/beta family: Gamma, Chi2, InverseGamma, Beta, StudentT,
FisherSnedecor and Dirichlet (scipy oracles for the univariate ones)."""

import scipy.stats

from tests.distributions.cases import Case

CASES = [
    Case(
        "Gamma",
        {"concentration": [0.4, 1.0, 3.5, 40.0], "rate": [1.0, 2.5, 0.3, 4.0]},
        scipy=lambda p: scipy.stats.gamma(p["concentration"], scale=1 / p["rate"]),
        grad_params=("concentration", "rate"),
    ),
    Case(
        "Gamma",
        {"concentration": 2.0, "rate": 3.0},
        scipy=lambda p: scipy.stats.gamma(p["concentration"], scale=1 / p["rate"]),
        label="scalar",
    ),
    Case(
        "Chi2",
        {"df": [0.7, 3.0, 25.0]},
        scipy=lambda p: scipy.stats.chi2(p["df"]),
        grad_params=("df",),
    ),
    Case(
        "InverseGamma",
        {"concentration": [2.5, 4.0, 12.0], "rate": [1.0, 0.5, 7.0]},
        scipy=lambda p: scipy.stats.invgamma(p["concentration"], scale=p["rate"]),
        grad_params=("concentration", "rate"),
        # the Monte-Carlo mean of a heavy-tailed draw (a = 2.5 has infinite variance)
        extra={"grad_tol": 0.06},
    ),
    Case(
        "Beta",
        {"concentration1": [0.3, 1.0, 2.0, 60.0], "concentration0": [0.5, 3.0, 2.0, 9.0]},
        scipy=lambda p: scipy.stats.beta(p["concentration1"], p["concentration0"]),
        grad_params=("concentration1", "concentration0"),
    ),
    Case(
        "Beta",
        {"concentration1": 1.5, "concentration0": 0.8},
        scipy=lambda p: scipy.stats.beta(p["concentration1"], p["concentration0"]),
        label="scalar",
    ),
    Case(
        "StudentT",
        {"df": [1.0, 4.5, 30.0], "loc": [0.0, -1.0, 2.0], "scale": [1.0, 0.5, 3.0]},
        scipy=lambda p: scipy.stats.t(p["df"], p["loc"], p["scale"]),
    ),
    Case(
        "StudentT",
        {"df": [6.0, 12.0], "loc": [0.5, -2.0], "scale": [2.0, 0.7]},
        scipy=lambda p: scipy.stats.t(p["df"], p["loc"], p["scale"]),
        grad_params=("df", "loc", "scale"),
        label="finite-mean",
    ),
    Case(
        "FisherSnedecor",
        {"df1": [1.0, 5.0, 30.0], "df2": [3.0, 12.0, 50.0]},
        scipy=lambda p: scipy.stats.f(p["df1"], p["df2"]),
    ),
    Case(
        "FisherSnedecor",
        {"df1": [4.0, 10.0], "df2": [14.0, 30.0]},
        scipy=lambda p: scipy.stats.f(p["df1"], p["df2"]),
        grad_params=("df1", "df2"),
        label="finite-variance",
    ),
    Case(
        "Dirichlet",
        {"concentration": [[0.5, 1.0, 2.0], [3.0, 0.7, 8.0]]},
        ks=False,
        grad_params=("concentration",),
    ),
    Case(
        "Dirichlet",
        {"concentration": [1.5, 2.5, 0.9, 4.0]},
        ks=False,
        grad_params=("concentration",),
        label="K4",
    ),
]
