"""Maps onto Cholesky factors, positive definite matrices and correlation Cholesky factors."""

import math

import torch
import torch.nn.functional as F

from distributions import constraints
from distributions.linalg import cholesky
from distributions.transforms.base import Transform
from distributions.utils import tril_matrix_to_vec, vec_to_tril_matrix

__all__ = ["CorrCholeskyTransform", "LowerCholeskyTransform", "PositiveDefiniteTransform"]


def _diag(x):
    return x.diagonal(dim1=-2, dim2=-1)


def _check_square(name, shape):
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(
            f"{name}: expected square matrices in the last two dims, got {tuple(shape)}"
        )


class LowerCholeskyTransform(Transform):
    """Unconstrained square matrix -> lower-triangular matrix with positive diagonal.

    Keeps the strictly lower triangle and exponentiates the diagonal; the upper
    triangle is discarded, so the map is not injective. ``log_abs_det_jacobian``
    is taken with respect to the lower-triangular coordinates (the ones that
    are kept): ``sum_i x_ii``.

    Example:
        >>> LowerCholeskyTransform()(torch.zeros(2, 2))
        tensor([[1., 0.],
                [0., 1.]])
    """

    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.lower_cholesky

    def __eq__(self, other):
        return isinstance(other, LowerCholeskyTransform)

    def _call(self, x):
        return x.tril(-1) + _diag(x).exp().diag_embed()

    def _inverse(self, y):
        return y.tril(-1) + _diag(y).log().diag_embed()

    def log_abs_det_jacobian(self, x, y):
        return _diag(x).sum(-1)

    def forward_shape(self, shape):
        _check_square("LowerCholeskyTransform", shape)
        return shape

    def inverse_shape(self, shape):
        _check_square("LowerCholeskyTransform", shape)
        return shape


class PositiveDefiniteTransform(Transform):
    """Unconstrained square matrix -> positive definite matrix ``L L^T``.

    ``L`` is :class:`LowerCholeskyTransform` of the input. The log-det is with
    respect to the lower-triangular coordinates of input and output. The map
    ``L -> L L^T`` has Jacobian ``2^n prod_i L_ii^(n - i + 1)`` (1-based ``i``;
    Muirhead 1982, "Aspects of Multivariate Statistical Theory", Thm 2.1.9), and
    ``dL_ii/dx_ii = L_ii``, so ``log|det| = n log 2 + sum_i (n - i + 2) x_ii``.

    Example:
        >>> PositiveDefiniteTransform()(torch.zeros(2, 2))
        tensor([[1., 0.],
                [0., 1.]])
    """

    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.positive_definite

    def __eq__(self, other):
        return isinstance(other, PositiveDefiniteTransform)

    def _call(self, x):
        factor = LowerCholeskyTransform()(x)
        return factor @ factor.mT

    def _inverse(self, y):
        factor = cholesky(
            y,
            "PositiveDefiniteTransform.inv",
            "the input",
            advice="In floating point L L^T of a factor whose rows differ in scale by "
            "more than 1 / sqrt(eps) can round to a singular matrix; keep the factor's "
            "conditioning within the dtype (or work in float64).",
        )
        return LowerCholeskyTransform().inv(factor)

    def log_abs_det_jacobian(self, x, y):
        n = x.shape[-1]
        weights = torch.arange(n + 1, 1, -1, dtype=x.dtype, device=x.device)
        return n * math.log(2.0) + (_diag(x) * weights).sum(-1)

    def forward_shape(self, shape):
        _check_square("PositiveDefiniteTransform", shape)
        return shape

    def inverse_shape(self, shape):
        _check_square("PositiveDefiniteTransform", shape)
        return shape


class CorrCholeskyTransform(Transform):
    """Vector of ``D(D-1)/2`` reals -> Cholesky factor of a ``D x D`` correlation matrix.

    Each entry goes through ``tanh`` to a partial correlation ``z_ij`` in (-1, 1);
    row ``i`` of the factor is then built by stick breaking on the squared
    row norm, ``L_ij = z_ij sqrt(1 - sum_{k<j} L_ik^2)`` and ``L_ii`` takes the
    rest, so every row has unit norm (Lewandowski, Kurowicka & Joe 2009,
    "Generating random correlation matrices based on vines and extended onion
    method", J. Multivariate Anal. 100(9); Stan Reference Manual, "Cholesky
    factors of correlation matrices"). Entries fill the strictly lower triangle
    row by row.

    Example:
        >>> CorrCholeskyTransform()(torch.zeros(3))
        tensor([[1., 0., 0.],
                [0., 1., 0.],
                [0., 0., 1.]])
    """

    domain = constraints.real_vector
    codomain = constraints.corr_cholesky
    bijective = True

    def __eq__(self, other):
        return isinstance(other, CorrCholeskyTransform)

    def _call(self, x):
        eps = torch.finfo(x.dtype).eps
        z = vec_to_tril_matrix(x.tanh().clamp(min=-1 + eps, max=1 - eps), diag=-1)
        # 1 - sum_{k<j} L_ik^2 = prod_{k<j} (1 - z_ik^2): the stick left before column j.
        left = (1 - z * z).sqrt().cumprod(-1)
        eye = torch.eye(z.shape[-1], dtype=z.dtype, device=z.device)
        return (z + eye) * F.pad(left[..., :-1], [1, 0], value=1.0)

    def _inverse(self, y):
        # Rows have unit norm, so the stick left before column j is the tail sum
        # sum_{k>=j} L_ik^2, which avoids cancellation in 1 - cumsum.
        left = (y * y).flip(-1).cumsum(-1).flip(-1)
        z = tril_matrix_to_vec(y, diag=-1) / tril_matrix_to_vec(left, diag=-1).sqrt()
        eps = torch.finfo(y.dtype).eps
        return z.clamp(min=-1 + eps, max=1 - eps).atanh()

    def log_abs_det_jacobian(self, x, y):
        # Row i is triangular in z: dL_ij/dz_ij = prod_{k<j} sqrt(1 - z_ik^2). Each
        # log(1 - z_ik^2) thus appears once from tanh and (i - k - 1)/2 times from the
        # later columns of its row: weight (i - k + 1)/2.
        log_dtanh = 2.0 * (math.log(2.0) - x - F.softplus(-2.0 * x))
        n = _matrix_size(x.shape[-1])
        rows, cols = torch.tril_indices(n, n, offset=-1, device=x.device)
        weights = (rows - cols + 1).to(x.dtype) / 2
        return (log_dtanh * weights).sum(-1)

    def forward_shape(self, shape):
        if len(shape) < 1:
            raise ValueError("CorrCholeskyTransform: expected a vector input, got shape ()")
        n = _matrix_size(shape[-1])
        return shape[:-1] + (n, n)

    def inverse_shape(self, shape):
        _check_square("CorrCholeskyTransform", shape)
        n = shape[-1]
        return shape[:-2] + (n * (n - 1) // 2,)


def _matrix_size(length):
    """The ``D`` with ``D (D - 1) / 2 == length``."""
    n = round((1 + math.sqrt(1 + 8 * length)) / 2)
    if n * (n - 1) // 2 != length:
        raise ValueError(
            f"CorrCholeskyTransform: input of length {length} is not D*(D-1)/2 for any "
            "integer D (the strictly lower triangle of a DxD matrix)"
        )
    return n
