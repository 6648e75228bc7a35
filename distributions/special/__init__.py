"""Special functions for the gamma/beta families, on torch tensors in float64.

Regularized incomplete gamma and beta functions with their inverses and
parameter derivatives, stable log-gamma differences, and reparameterized
Gamma, Beta and Dirichlet draws with implicit gradients built from them.
"""

from distributions.special.implicit_reparam import (
    beta_rsample,
    dirichlet_rsample,
    log_standard_gamma,
    standard_gamma,
)
from distributions.special.incomplete_beta import (
    beta_implicit_grad,
    betainc,
    betainc_log,
    betaincc,
    log_beta_density,
)
from distributions.special.incomplete_beta_inverse import betaincinv, betaincinv_pair
from distributions.special.incomplete_gamma import (
    gammainc,
    gammaincc,
    gammainccinv,
    gammaincinv,
    log_gamma_density,
    two_product,
)
from distributions.special.log_gamma import (
    digamma_difference,
    log_beta,
    log_gamma_ratio,
    stirling_correction,
)

__all__ = [
    "beta_implicit_grad",
    "beta_rsample",
    "betainc",
    "betainc_log",
    "betaincc",
    "betaincinv",
    "betaincinv_pair",
    "digamma_difference",
    "dirichlet_rsample",
    "gammainc",
    "gammaincc",
    "gammainccinv",
    "gammaincinv",
    "log_beta",
    "log_beta_density",
    "log_gamma_density",
    "log_gamma_ratio",
    "log_standard_gamma",
    "standard_gamma",
    "stirling_correction",
    "two_product",
]
