"""Closed-form KL divergences, registered on import, grouped by family."""

from distributions.kl_pairs import (
    continuous,
    continuous_bernoulli,
    discrete,
    extreme_value,
    moments,
    structural,
)

__all__ = [
    "continuous",
    "continuous_bernoulli",
    "discrete",
    "extreme_value",
    "moments",
    "structural",
]
