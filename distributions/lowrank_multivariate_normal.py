"""``LowRankMultivariateNormal``: a Gaussian with covariance ``W W^T + diag(d)``."""

import math

import torch

from distributions import constraints
from distributions.distribution import Distribution
from distributions.linalg import (
    batch_mv,
    batch_shapes,
    cholesky,
    half_log_det,
)
from distributions.utils import lazy_property

__all__ = ["LowRankMultivariateNormal"]

_LOG_2PI = math.log(2 * math.pi)
_OWNER = "LowRankMultivariateNormal"


def _check_shapes(loc, cov_factor, cov_diag):
    if loc.dim() < 1:
        raise ValueError(
            f"{_OWNER}: loc must be at least one-dimensional, got shape {tuple(loc.shape)}"
        )
    n = loc.size(-1)
    if cov_factor.dim() < 2 or cov_factor.size(-2) != n:
        raise ValueError(
            f"{_OWNER}: cov_factor must be a batch of {n} x rank matrices (loc has event size "
            f"{n}), got shape {tuple(cov_factor.shape)}"
        )
    if cov_diag.dim() < 1 or cov_diag.size(-1) != n:
        raise ValueError(
            f"{_OWNER}: cov_diag must be a batch of vectors of length {n} (loc has event size "
            f"{n}), got shape {tuple(cov_diag.shape)}"
        )
    try:
        return batch_shapes(loc.shape[:-1], cov_factor.shape[:-2], cov_diag.shape[:-1])
    except RuntimeError:
        raise ValueError(
            f"{_OWNER}: the batch shapes of loc {tuple(loc.shape[:-1])}, cov_factor "
            f"{tuple(cov_factor.shape[:-2])} and cov_diag {tuple(cov_diag.shape[:-1])} do not "
            "broadcast"
        ) from None


def capacitance_tril(cov_factor, cov_diag):
    """Cholesky factor of the scaled capacitance matrix ``s I + W^T (D / s)^{-1} W``, and ``s``.

    ``s`` is the largest entry of ``D`` per batch element: the capacitance
    ``C = I + W^T D^{-1} W`` itself overflows float32 where ``D`` is tiny
    (``|W|^2 / d`` past 3e38), its scaled form ``s C`` does not, and every use
    needs only ``s C`` and ``s`` (``log|C| = log|s C| - rank log s``).

    Example:
        >>> tril, scale = capacitance_tril(torch.ones(2, 1), torch.ones(2))
        >>> tril, scale
        (tensor([[1.7321]]), tensor(1.))
    """
    rank = cov_factor.size(-1)
    scale = cov_diag.detach().amax(-1)
    scaled = cov_factor.mT / (cov_diag / scale.unsqueeze(-1)).unsqueeze(-2)
    eye = torch.eye(rank, dtype=cov_factor.dtype, device=cov_factor.device)
    tril = cholesky(
        scale[..., None, None] * eye + scaled @ cov_factor,
        _OWNER,
        "the capacitance matrix I + cov_factor^T diag(1 / cov_diag) cov_factor",
        advice="cov_diag is probably zero, tiny or not finite somewhere; keep it positive "
        "(e.g. add 1e-6) relative to the scale of cov_factor.",
    )
    return tril, scale


class LowRankMultivariateNormal(Distribution):
    """A multivariate normal whose covariance is low rank plus diagonal.

    ``Sigma = W W^T + diag(d)`` with ``W`` of shape ``(n, rank)``. Densities use
    the Woodbury identity and the matrix determinant lemma through the
    ``rank x rank`` capacitance matrix ``C = I + W^T D^{-1} W``, so scoring costs
    ``O(n rank^2)`` instead of ``O(n^3)``:
    ``x^T Sigma^{-1} x = x^T D^{-1} x - |L_C^{-1} W^T D^{-1} x|^2`` and
    ``log|Sigma| = log|C| + sum log d``.

    Args:
        loc: mean vectors, shape ``batch + (n,)``.
        cov_factor: ``W``, shape ``batch + (n, rank)``.
        cov_diag: ``d``, positive, shape ``batch + (n,)``.
        validate_args: see :class:`Distribution`.

    Raises:
        ValueError: when the shapes disagree.

    Example:
        >>> d = LowRankMultivariateNormal(torch.zeros(3), torch.ones(3, 1), torch.ones(3))
        >>> d.covariance_matrix[0].tolist()
        [2.0, 1.0, 1.0]
    """

    arg_constraints = {
        "loc": constraints.real_vector,
        "cov_factor": constraints.independent(constraints.real, 2),
        "cov_diag": constraints.independent(constraints.positive, 1),
    }
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, cov_factor, cov_diag, validate_args=None):
        batch_shape = _check_shapes(loc, cov_factor, cov_diag)
        event_shape = loc.shape[-1:]
        self.loc = loc.expand(batch_shape + event_shape)
        self.cov_factor = cov_factor.expand(batch_shape + cov_factor.shape[-2:])
        self.cov_diag = cov_diag.expand(batch_shape + event_shape)
        super().__init__(batch_shape, event_shape, validate_args=validate_args)
        self._unbroadcasted_cov_factor = cov_factor
        self._unbroadcasted_cov_diag = cov_diag
        self._capacitance_tril, self._capacitance_scale = capacitance_tril(cov_factor, cov_diag)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LowRankMultivariateNormal, _instance)
        batch_shape = torch.Size(batch_shape)
        new.loc = self.loc.expand(batch_shape + self.event_shape)
        new.cov_factor = self.cov_factor.expand(batch_shape + self.cov_factor.shape[-2:])
        new.cov_diag = self.cov_diag.expand(batch_shape + self.event_shape)
        new._unbroadcasted_cov_factor = self._unbroadcasted_cov_factor
        new._unbroadcasted_cov_diag = self._unbroadcasted_cov_diag
        new._capacitance_tril = self._capacitance_tril
        new._capacitance_scale = self._capacitance_scale
        super(LowRankMultivariateNormal, new).__init__(
            batch_shape, self.event_shape, validate_args=False
        )
        new._validate_args = self._validate_args
        return new

    def _matrix_shape(self):
        return self._batch_shape + self._event_shape + self._event_shape

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @lazy_property
    def variance(self):
        variance = self._unbroadcasted_cov_factor.pow(2).sum(-1) + self._unbroadcasted_cov_diag
        return variance.expand(self._batch_shape + self._event_shape)

    @lazy_property
    def scale_tril(self):
        # Sigma = D^{1/2} (I + D^{-1/2} W W^T D^{-1/2}) D^{1/2}; the bracket is well
        # conditioned (eigenvalues >= 1), and D^{1/2} times its factor stays lower.
        root = self._unbroadcasted_cov_diag.sqrt()
        scaled = self._unbroadcasted_cov_factor / root.unsqueeze(-1)
        n = self._event_shape[0]
        eye = torch.eye(n, dtype=root.dtype, device=root.device)
        inner = cholesky(eye + scaled @ scaled.mT, _OWNER, "the scaled covariance")
        return (root.unsqueeze(-1) * inner).expand(self._matrix_shape())

    @lazy_property
    def covariance_matrix(self):
        w = self._unbroadcasted_cov_factor
        cov = w @ w.mT + torch.diag_embed(self._unbroadcasted_cov_diag)
        return cov.expand(self._matrix_shape())

    @lazy_property
    def precision_matrix(self):
        # Woodbury: Sigma^{-1} = D^{-1} - s A^T A with A = L^{-1} W^T D^{-1}, L L^T = s C.
        inv_diag = self._unbroadcasted_cov_diag.reciprocal()
        scaled = self._unbroadcasted_cov_factor.mT * inv_diag.unsqueeze(-2)
        a = torch.linalg.solve_triangular(self._capacitance_tril, scaled, upper=False)
        low_rank = self._capacitance_scale[..., None, None] * (a.mT @ a)
        return (torch.diag_embed(inv_diag) - low_rank).expand(self._matrix_shape())

    def rsample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        w = self._unbroadcasted_cov_factor
        eps_w = torch.randn(shape[:-1] + w.shape[-1:], dtype=self.loc.dtype, device=w.device)
        eps_d = torch.randn(shape, dtype=self.loc.dtype, device=w.device)
        return self.loc + batch_mv(w, eps_w) + self._unbroadcasted_cov_diag.sqrt() * eps_d

    def _log_det(self):
        rank = self._unbroadcasted_cov_factor.size(-1)
        log_det_c = 2 * half_log_det(self._capacitance_tril) - rank * self._capacitance_scale.log()
        return log_det_c + self._unbroadcasted_cov_diag.log().sum(-1)

    def _mahalanobis(self, diff):
        """``diff^T Sigma^{-1} diff`` as the minimum of ``|a|^2 + |D^{-1/2}(diff - W a)|^2``.

        The Woodbury form ``diff^T D^{-1} diff - |L_C^{-1} W^T D^{-1} diff|^2``
        subtracts two terms of size ``|W|^2 / d`` that cancel where ``d`` is small
        (float32 lost the whole answer at ``d = 1e-18``, ``|W| = 40``, and expanded
        and unexpanded batches rounded differently). The minimizer
        ``a = C^{-1} W^T D^{-1} diff`` enters the quadratic only to second order, and
        the residual ``diff - W a`` is formed directly, so nothing cancels beyond the
        rounding of ``diff`` itself.
        """
        w, diag = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        # a = (s C)^{-1} W^T (D / s)^{-1} diff: the scaled forms, which do not overflow.
        projected = batch_mv(w.mT, diff / (diag / self._capacitance_scale.unsqueeze(-1)))
        # One broadcast solve (folding samples into columns, as batch_mahalanobis
        # does, rounds expanded and unexpanded batches differently at the edges).
        a = torch.cholesky_solve(projected.unsqueeze(-1), self._capacitance_tril).squeeze(-1)
        residual = diff - batch_mv(w, a)
        return a.pow(2).sum(-1) + (residual.pow(2) / diag).sum(-1)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        mahalanobis = self._mahalanobis(value - self.loc)
        n = self._event_shape[0]
        return -0.5 * (n * _LOG_2PI + self._log_det() + mahalanobis)

    def entropy(self):
        n = self._event_shape[0]
        entropy = 0.5 * (n * (1.0 + _LOG_2PI) + self._log_det())
        return entropy.expand(self._batch_shape)
