"""Batched linear algebra shared by the Gaussian and Wishart families.

Everything here works on the "unbroadcasted" factors a distribution keeps: a
batch of lower-triangular ``L`` with ``Sigma = L @ L.mT``, whose batch shape may
be smaller than the distribution's. Factorizations report failures as
``ValueError`` messages that name the distribution, the argument and the batch
element, and say how to repair the matrix.
"""

import math

import torch

from distributions import constraints
from distributions.utils import broadcast_shape
from distributions.validation import describe_violation

__all__ = [
    "batch_mahalanobis",
    "batch_shapes",
    "batch_mv",
    "check_lower_cholesky",
    "check_symmetric",
    "cholesky",
    "half_log_det",
    "precision_to_scale_tril",
    "scale_tril_of",
    "select_matrix_argument",
]

MATRIX_ARGUMENTS = ("covariance_matrix", "precision_matrix", "scale_tril")


def batch_shapes(*shapes):
    """Broadcasts batch shapes, skipping ``torch.broadcast_shapes`` when one of them wins.

    The common cases (equal shapes, or all but one empty) cost a few Python
    comparisons instead of torch's general routine.

    Raises:
        RuntimeError: as ``torch.broadcast_shapes`` for incompatible shapes.

    Example:
        >>> batch_shapes(torch.Size([3]), torch.Size([]))
        torch.Size([3])
    """
    nonempty = [s for s in shapes if len(s)]
    if not nonempty:
        return torch.Size()
    first = nonempty[0]
    if all(s == first for s in nonempty):
        return torch.Size(first)
    return broadcast_shape(*shapes)


def batch_mv(matrix, vector):
    """Matrix-vector product over broadcastable batch shapes.

    Example:
        >>> batch_mv(torch.eye(2) * 3, torch.ones(4, 2)).shape
        torch.Size([4, 2])
    """
    return torch.matmul(matrix, vector.unsqueeze(-1)).squeeze(-1)


def half_log_det(scale_tril):
    """``log|det L|`` of lower-triangular factors: half the log-determinant of ``L L^T``.

    Example:
        >>> half_log_det(torch.eye(3) * 2).exp().item()
        8.0
    """
    return scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)


def batch_mahalanobis(scale_tril, x):
    """Squared Mahalanobis norm ``x^T (L L^T)^{-1} x = |L^{-1} x|^2``, batched.

    ``x`` may carry leading sample dims beyond the batch of ``scale_tril``;
    those are folded into the columns of one right-hand side, so each distinct
    factor is solved against once (one triangular solve with many columns is far
    cheaper than many solves with one column) and ``L`` is never copied per sample.

    Args:
        scale_tril: lower-triangular factors, shape ``B + (n, n)``.
        x: vectors, shape ``S + B' + (n,)`` with ``B'`` broadcastable with ``B``.

    Returns:
        Tensor of shape ``S + broadcast(B, B')``.

    Example:
        >>> batch_mahalanobis(torch.eye(2) * 2, torch.tensor([[2.0, 0.0], [2.0, 2.0]]))
        tensor([1., 2.])
    """
    lead = x.dim() - 1 - (scale_tril.dim() - 2)
    if lead <= 0:
        solved = torch.linalg.solve_triangular(scale_tril, x.unsqueeze(-1), upper=False)
        return solved.squeeze(-1).pow(2).sum(-1)
    sample_shape = x.shape[:lead]
    # The count is explicit: -1 is ambiguous when the batch is empty.
    columns = x.reshape((math.prod(sample_shape),) + x.shape[lead:]).movedim(0, -1)
    solved = torch.linalg.solve_triangular(scale_tril, columns, upper=False)
    squared = solved.pow(2).sum(-2).movedim(-1, 0)
    return squared.reshape(sample_shape + squared.shape[1:])


def _first_failure(info):
    """Index tuple of the first batch element whose factorization failed."""
    if info.dim() == 0:
        return ()
    return tuple(int(i) for i in (info != 0).nonzero()[0])


def cholesky(matrix, owner, name, advice=None):
    """Lower Cholesky factor of a batch of positive definite matrices.

    Uses ``torch.linalg.cholesky_ex`` and reads its ``info``: a failure raises an
    actionable error instead of a bare ``LinAlgError``. This is also the
    positive-definiteness check of the argument (no separate eigen-decomposition).

    Args:
        matrix: symmetric matrices, shape ``B + (n, n)``.
        owner: the distribution's name, for the message.
        name: the argument's name, for the message.
        advice: how to fix it, when the default (diagonal jitter or
            ``scale_tril``) does not apply.

    Raises:
        ValueError: naming ``owner``, ``name``, the shape and the failing batch
            element, and suggesting diagonal jitter or ``scale_tril``.

    Example:
        >>> cholesky(torch.eye(2) * 4, "MultivariateNormal", "covariance_matrix")
        tensor([[2., 0.],
                [0., 2.]])
    """
    factor, info = torch.linalg.cholesky_ex(matrix)
    if info.any():
        where = _first_failure(info)
        at = f" at batch index {where}" if where else ""
        if advice is None:
            advice = (
                f"If it is nearly singular, add jitter to the diagonal, e.g. {name} + 1e-6 * "
                f"torch.eye({matrix.size(-1)}), or pass scale_tril (a lower-triangular factor "
                "with positive diagonal) instead."
            )
        raise ValueError(
            f"{owner}: {name} of shape {tuple(matrix.shape)} is not positive definite "
            f"(its Cholesky factorization failed{at}); it is singular, nearly singular or "
            f"not a covariance at all. {advice}"
        )
    return factor


def precision_to_scale_tril(precision, owner, name="precision_matrix"):
    """Lower-triangular ``L`` with ``L L^T = P^{-1}``, without inverting ``P``.

    With the reversal permutation ``J``, factor ``J P J = C C^T``; then
    ``P = U U^T`` with ``U = J C J`` upper triangular, so
    ``P^{-1} = U^{-T} U^{-1}`` and ``L = U^{-T}`` is lower triangular with a
    positive diagonal. One Cholesky and one triangular solve, all well conditioned
    relative to forming ``P^{-1}`` first.

    Raises:
        ValueError: as :func:`cholesky`, naming ``name``.

    Example:
        >>> precision_to_scale_tril(torch.eye(2) * 4, "MultivariateNormal")
        tensor([[0.5000, 0.0000],
                [0.0000, 0.5000]])
    """
    reversed_factor = cholesky(precision.flip(-2, -1), owner, name)
    lower = reversed_factor.flip(-2, -1).mT  # U^T = J C^T J, lower triangular
    eye = torch.eye(precision.size(-1), dtype=precision.dtype, device=precision.device)
    return torch.linalg.solve_triangular(lower, eye, upper=False)


def select_matrix_argument(owner, covariance_matrix, precision_matrix, scale_tril):
    """Returns ``(name, matrix)`` for the one matrix argument that was given.

    Raises:
        ValueError: when not exactly one is given, or it is not a batch of square
            matrices.

    Example:
        >>> select_matrix_argument("Wishart", None, None, torch.eye(2))[0]
        'scale_tril'
    """
    given = [
        (n, m)
        for n, m in zip(MATRIX_ARGUMENTS, (covariance_matrix, precision_matrix, scale_tril))
        if m is not None
    ]
    if len(given) != 1:
        names = ", ".join(n for n, _ in given) or "none"
        raise ValueError(
            f"{owner}: exactly one of covariance_matrix, precision_matrix or scale_tril "
            f"may be specified (got {names})."
        )
    name, matrix = given[0]
    if not isinstance(matrix, torch.Tensor):
        raise ValueError(
            f"{owner}: {name} must be a torch.Tensor, got {type(matrix).__name__}; "
            "wrap it with torch.as_tensor(...)"
        )
    if matrix.dim() < 2 or matrix.size(-1) != matrix.size(-2):
        raise ValueError(
            f"{owner}: {name} must be a batch of square matrices (shape (..., n, n)), got "
            f"shape {tuple(matrix.shape)}"
        )
    return name, matrix


def scale_tril_of(owner, name, matrix):
    """Lower Cholesky factor of the covariance described by ``name``/``matrix``.

    Example:
        >>> scale_tril_of("Wishart", "covariance_matrix", torch.eye(2) * 9)[1, 1].item()
        3.0
    """
    if name == "scale_tril":
        return matrix
    if name == "covariance_matrix":
        return cholesky(matrix, owner, name)
    return precision_to_scale_tril(matrix, owner, name)


def _triangle_indices(n, device):
    """Flat indices of the strict upper triangle of an ``n x n`` matrix and their mirrors."""
    key = (n, device)
    if key not in _TRIANGLES:
        rows, cols = torch.triu_indices(n, n, offset=1, device=device)
        _TRIANGLES[key] = (rows * n + cols, cols * n + rows)
    return _TRIANGLES[key]


_TRIANGLES = {}
_SMALL = 256  # elements; beyond this a full exact comparison costs more than it saves


def check_symmetric(owner, name, matrix):
    """Raises unless ``matrix`` is symmetric within the tolerance of ``constraints.symmetric``.

    The common case is decided by one float reduction over the strict upper
    triangle, computing the same tolerance as ``constraints.symmetric`` (whose
    elementwise boolean check is several times slower); that check runs only to
    locate a violation.

    Raises:
        ValueError: naming the batch element and its largest asymmetry.

    Example:
        >>> check_symmetric("Wishart", "covariance_matrix", torch.eye(2))
    """
    # One call settles exactly symmetric small matrices, the usual model parameter.
    if matrix.numel() <= _SMALL and torch.equal(matrix, matrix.mT):
        return
    upper, lower = _triangle_indices(matrix.size(-1), matrix.device)
    flat = matrix.flatten(-2)
    above, below = flat.index_select(-1, upper), flat.index_select(-1, lower)
    # isclose(A, A^T, rtol=1e-5, atol=1e-6) in both directions, as one float reduction.
    slack = (above - below).abs() - 1e-5 * torch.minimum(above.abs(), below.abs())
    if slack.numel() == 0 or slack.max() <= 1e-6:
        return
    valid = constraints.symmetric.check(matrix)
    if bool(valid.all()):
        return
    where = _first_failure(~valid)
    worst = (matrix[where] - matrix[where].mT).abs().max().item()
    at = f" at batch index {where}" if where else ""
    raise ValueError(
        f"{owner}: argument '{name}' must be a symmetric positive definite matrix, but the "
        f"matrix{at} of the tensor of shape {tuple(matrix.shape)} is not symmetric (largest "
        f"|A - A^T| entry {worst:.3g}). Symmetrize it, e.g. (A + A.mT) / 2 "
        "(or pass validate_args=False to skip this check)."
    )


def check_lower_cholesky(owner, name, matrix):
    """Raises unless ``matrix`` is lower triangular with a positive diagonal.

    Raises:
        ValueError: in the format of the argument checks of ``validation``.

    Example:
        >>> check_lower_cholesky("MultivariateNormal", "scale_tril", torch.eye(2))
    """
    if matrix.numel() == 0:
        return  # an empty batch has nothing to violate (and min() of nothing raises)
    diagonal_ok = bool(matrix.diagonal(dim1=-2, dim2=-1).min() > 0)
    if matrix.numel() <= _SMALL:
        # Exactly the constraint's test (NaN anywhere makes the comparison fail).
        if diagonal_ok and torch.equal(matrix.tril(), matrix):
            return
    else:
        # Float reductions decide the common case for large batches (NaN anywhere
        # fails one of them); the elementwise check below only locates a violation.
        upper, _ = _triangle_indices(matrix.size(-1), matrix.device)
        above = matrix.flatten(-2).index_select(-1, upper)
        if diagonal_ok and above.abs().max() == 0 and not matrix.sum().isnan():
            return
    valid = constraints.lower_cholesky.check(matrix)
    if bool(valid.all()):
        return
    raise ValueError(
        f"{owner}: argument '{name}' must satisfy the constraint "
        f"{constraints.lower_cholesky.description}, but the tensor of shape "
        f"{tuple(matrix.shape)} has {describe_violation(matrix, valid)}. Pass a Cholesky "
        "factor, e.g. torch.linalg.cholesky(covariance) (or validate_args=False to skip "
        "this check)."
    )
