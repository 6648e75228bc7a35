"""``MultivariateNormal``: the Gaussian on ``R^n`` with a full covariance."""

import math

import torch

from distributions import constraints
from distributions.distribution import Distribution
from distributions.linalg import (
    batch_mahalanobis,
    batch_mv,
    batch_shapes,
    check_lower_cholesky,
    check_symmetric,
    half_log_det,
    scale_tril_of,
    select_matrix_argument,
)
from distributions.utils import lazy_property, normal_draws, promote_float

__all__ = ["MultivariateNormal"]

_LOG_2PI = math.log(2 * math.pi)


def _check_event_sizes(owner, loc, name, matrix):
    if loc.dim() < 1:
        raise ValueError(
            f"{owner}: loc must be at least one-dimensional (a vector, with optional batch "
            f"dims), got shape {tuple(loc.shape)}; use loc.unsqueeze(-1) for a 1-d Gaussian"
        )
    if loc.size(-1) != matrix.size(-1):
        raise ValueError(
            f"{owner}: loc has event size {loc.size(-1)} (shape {tuple(loc.shape)}) but "
            f"{name} is {matrix.size(-2)}x{matrix.size(-1)} (shape {tuple(matrix.shape)}); "
            "the last dim of loc must equal the matrix size"
        )


def _joint_batch_shape(owner, loc, name, matrix):
    try:
        return batch_shapes(matrix.shape[:-2], loc.shape[:-1])
    except RuntimeError:
        raise ValueError(
            f"{owner}: the batch shape {tuple(loc.shape[:-1])} of loc does not broadcast "
            f"with the batch shape {tuple(matrix.shape[:-2])} of {name}"
        ) from None


class MultivariateNormal(Distribution):
    """The multivariate normal ``N(loc, Sigma)`` on ``R^n``.

    ``Sigma`` is given by exactly one of its covariance matrix, its precision
    matrix ``Sigma^{-1}``, or a lower-triangular ``scale_tril`` with positive
    diagonal and ``Sigma = L L^T``. Everything is computed from ``L`` (kept with
    its own, possibly smaller, batch shape); the other two are derived lazily.

    Validation: ``loc`` must be finite-or-infinite reals (no NaN), ``scale_tril``
    lower triangular with positive diagonal, and a covariance or precision matrix
    symmetric. Positive-definiteness is read off the Cholesky factorization that
    is needed anyway, and a failed factorization raises a ``ValueError`` naming
    the matrix (whether or not validation is on): there is no separate
    eigen-decomposition, so validation costs little beyond the factorization.
    Matrix checks run on the argument as given, before it is broadcast to the
    batch shape.

    Draws are rounded to the dtype, and a law narrower than that rounding in
    some direction cannot be represented: where ``scale_tril``'s condition
    number (at least the ratio of its largest row norm to its smallest
    diagonal entry) nears ``1 / eps`` of the dtype (about 1e7 in float32), the
    rounding of a draw along its wide directions is many standard deviations
    along its narrow ones, and ``log_prob`` of that draw can fall below the
    float range (``-inf``, the correct rounding of a true log-density past
    ``-3e38``). Use float64, or a better-conditioned parameterization, there.

    Args:
        loc: mean vectors, shape ``batch + (n,)``.
        covariance_matrix: positive definite, shape ``batch + (n, n)``.
        precision_matrix: positive definite, shape ``batch + (n, n)``.
        scale_tril: lower Cholesky factor of the covariance, shape ``batch + (n, n)``.
        validate_args: see :class:`Distribution`.

    Raises:
        ValueError: when not exactly one matrix is given, shapes disagree, or the
            covariance/precision matrix is not (numerically) positive definite.

    Example:
        >>> d = MultivariateNormal(torch.zeros(2), covariance_matrix=torch.eye(2))
        >>> round(d.log_prob(torch.zeros(2)).item(), 4)
        -1.8379
    """

    arg_constraints = {
        "loc": constraints.real_vector,
        "covariance_matrix": constraints.positive_definite,
        "precision_matrix": constraints.positive_definite,
        "scale_tril": constraints.lower_cholesky,
    }
    support = constraints.real_vector
    has_rsample = True

    def __init__(
        self,
        loc,
        covariance_matrix=None,
        precision_matrix=None,
        scale_tril=None,
        validate_args=None,
    ):
        owner = "MultivariateNormal"
        name, matrix = select_matrix_argument(
            owner, covariance_matrix, precision_matrix, scale_tril
        )
        # Integer or boolean parameters are promoted to the default float dtype.
        matrix = promote_float(matrix)
        loc = promote_float(loc, like=matrix)
        _check_event_sizes(owner, loc, name, matrix)
        batch_shape = _joint_batch_shape(owner, loc, name, matrix)
        self.loc = loc.expand(batch_shape + loc.shape[-1:])
        # The matrix is stored after the base class's argument checks, which skip
        # lazily derived attributes not yet set: it is checked below on its own
        # (unexpanded) shape, and its positive-definiteness by the factorization.
        super().__init__(batch_shape, loc.shape[-1:], validate_args=validate_args)
        if self._validate_args:
            if name == "scale_tril":
                check_lower_cholesky(owner, name, matrix)
            else:
                check_symmetric(owner, name, matrix)
        self._unbroadcasted_scale_tril = scale_tril_of(owner, name, matrix)
        setattr(self, name, matrix.expand(batch_shape + matrix.shape[-2:]))

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(MultivariateNormal, _instance)
        batch_shape = torch.Size(batch_shape)
        new.loc = self.loc.expand(batch_shape + self.event_shape)
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        matrix_shape = batch_shape + self.event_shape + self.event_shape
        for name in ("covariance_matrix", "precision_matrix", "scale_tril"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(matrix_shape))
        super(MultivariateNormal, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _matrix_shape(self):
        return self._batch_shape + self._event_shape + self._event_shape

    @lazy_property
    def scale_tril(self):
        return self._unbroadcasted_scale_tril.expand(self._matrix_shape())

    @lazy_property
    def covariance_matrix(self):
        factor = self._unbroadcasted_scale_tril
        return (factor @ factor.mT).expand(self._matrix_shape())

    @lazy_property
    def precision_matrix(self):
        return torch.cholesky_inverse(self._unbroadcasted_scale_tril).expand(self._matrix_shape())

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        # diag(L L^T) is the row-wise squared norm of L.
        variance = self._unbroadcasted_scale_tril.pow(2).sum(-1)
        return variance.expand(self._batch_shape + self._event_shape)

    def rsample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        eps = normal_draws(self.loc, shape)
        return self.loc + batch_mv(self._unbroadcasted_scale_tril, eps)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        factor = self._unbroadcasted_scale_tril
        mahalanobis = batch_mahalanobis(factor, value - self.loc)
        n = self._event_shape[0]
        return -0.5 * (n * _LOG_2PI + mahalanobis) - half_log_det(factor)

    def entropy(self):
        n = self._event_shape[0]
        entropy = 0.5 * n * (1.0 + _LOG_2PI) + half_log_det(self._unbroadcasted_scale_tril)
        return entropy.expand(self._batch_shape)
