"""Cases for the circular ``VonMises``.

``scipy.stats.vonmises(k, loc)`` scores the same periodic density, and its cdf
uses our convention (integrated from ``loc - pi``, plus one per full turn), so
log_prob and cdf agree with scipy at any real value. The table's KS test feeds
samples in ``[-pi, pi)`` to that cdf, which starts at ``loc - pi``; this is
exact for loc 0 and off by ``P(loc - pi < X < -pi) ~ 1e-14`` for loc 1 at
k = 20, far below what 4000 draws can see. Other locs and concentrations are
KS-tested in ``test_von_mises.py`` after re-centering.
"""

import scipy.stats

from tests.distributions.cases import Case

CASES = [
    Case(
        "VonMises",
        {"loc": [0.0, 1.0], "concentration": [0.5, 20.0]},
        scipy=lambda p: scipy.stats.vonmises(p["concentration"], loc=p["loc"]),
    ),
]
