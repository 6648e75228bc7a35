"""Transforms between constrained and unconstrained spaces.

The API of ``torch.distributions.transforms``, split by concept into submodules.

Example:
    >>> from distributions.transforms import ExpTransform
    >>> import torch
    >>> ExpTransform().inv(ExpTransform()(torch.tensor(2.0)))
    tensor(2.)
"""

from distributions.transforms.base import ComposeTransform, Transform, identity_transform
from distributions.transforms.cdf import CumulativeDistributionTransform
from distributions.transforms.elementwise import (
    AbsTransform,
    AffineTransform,
    ExpTransform,
    PowerTransform,
    SigmoidTransform,
    SoftplusTransform,
    TanhTransform,
)
from distributions.transforms.matrix import (
    CorrCholeskyTransform,
    LowerCholeskyTransform,
    PositiveDefiniteTransform,
)
from distributions.transforms.simplex import SoftmaxTransform, StickBreakingTransform
from distributions.transforms.structural import (
    CatTransform,
    IndependentTransform,
    ReshapeTransform,
    StackTransform,
)

__all__ = [
    "AbsTransform",
    "AffineTransform",
    "CatTransform",
    "ComposeTransform",
    "CorrCholeskyTransform",
    "CumulativeDistributionTransform",
    "ExpTransform",
    "IndependentTransform",
    "LowerCholeskyTransform",
    "PositiveDefiniteTransform",
    "PowerTransform",
    "ReshapeTransform",
    "SigmoidTransform",
    "SoftplusTransform",
    "TanhTransform",
    "SoftmaxTransform",
    "StackTransform",
    "StickBreakingTransform",
    "Transform",
    "identity_transform",
]
