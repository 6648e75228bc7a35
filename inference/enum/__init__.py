"""Exact enumeration of discrete latent variables: tensor variable elimination.

``TraceEnum_ELBO`` sums enumerated sites out of the ELBO exactly;
``infer_discrete`` draws (or maximizes) them given the rest. The contraction
machinery (``Factor``, ``eliminate``, ``contract_plated``) is reusable.
"""

from inference.enum.contract import Factor, eliminate, multiply, sum_out
from inference.enum.infer_discrete import infer_discrete
from inference.enum.plated import PlatedFactor, contract_plated
from inference.enum.trace_enum_elbo import TraceEnum_ELBO, enumerated_elbo

__all__ = [
    "Factor",
    "PlatedFactor",
    "TraceEnum_ELBO",
    "contract_plated",
    "eliminate",
    "enumerated_elbo",
    "infer_discrete",
    "multiply",
    "sum_out",
]
