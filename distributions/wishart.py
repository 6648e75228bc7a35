"""``Wishart``: the law of scatter matrices of Gaussian vectors."""

import math
import warnings
from numbers import Number

import torch

from distributions import constraints
from distributions.exp_family import ExponentialFamily
from distributions.linalg import (
    batch_shapes,
    check_lower_cholesky,
    check_symmetric,
    half_log_det,
    scale_tril_of,
    select_matrix_argument,
)
from distributions.utils import lazy_property

__all__ = ["Wishart"]

_LOG_2 = math.log(2)
_OWNER = "Wishart"


def multivariate_digamma(x, p):
    """``d/dx log Gamma_p(x) = sum_{i<p} digamma(x - i/2)``.

    Example:
        >>> round(multivariate_digamma(torch.tensor(2.0), 1).item(), 4)
        0.4228
    """
    offsets = torch.arange(p, dtype=x.dtype, device=x.device) / 2
    return torch.digamma(x.unsqueeze(-1) - offsets).sum(-1)


def _batch_shape_and_df(df, matrix):
    if isinstance(df, Number):
        df = torch.tensor(float(df), dtype=matrix.dtype, device=matrix.device)
    try:
        batch_shape = batch_shapes(matrix.shape[:-2], df.shape)
    except RuntimeError:
        raise ValueError(
            f"{_OWNER}: df of shape {tuple(df.shape)} does not broadcast with the batch shape "
            f"{tuple(matrix.shape[:-2])} of the matrix argument"
        ) from None
    return batch_shape, df.expand(batch_shape)


def _check_df(df, p):
    if bool((df > p - 1).all()):
        return
    worst = df.min().item()
    raise ValueError(
        f"{_OWNER}: df must exceed the dimension minus one ({p - 1}) for {p}x{p} matrices, "
        f"got df={worst:g}; use df > {p - 1} (df >= {p} avoids singular samples)"
    )


class Wishart(ExponentialFamily):
    """The Wishart distribution ``W_p(df, Sigma)`` on positive definite matrices.

    The law of ``sum_{k<df} x_k x_k^T`` for ``x_k ~ N(0, Sigma)`` when ``df`` is an
    integer, extended to real ``df > p - 1``. ``Sigma`` is given by exactly one
    of its covariance matrix, its precision matrix, or its lower Cholesky factor;
    the matrix argument is validated as in :class:`MultivariateNormal`
    (symmetry checked, positive-definiteness read off the one factorization).

    Sampling uses the Bartlett decomposition (Bartlett 1933; the algorithm of
    Odell & Feiveson 1966, JASA 61(313)): ``X = L A A^T L^T`` with ``A`` lower
    triangular, ``A_ii^2 ~ chi^2(df - i)`` and ``A_ij ~ N(0, 1)`` below the
    diagonal. It is reparameterized: gradients reach ``Sigma`` through ``L`` and
    ``df`` through the implicit gradient of the gamma sampler (Figurnov et al.
    2018, arXiv 1805.08498).

    Args:
        df: degrees of freedom, greater than ``p - 1``; a number or a tensor
            broadcastable with the matrix batch shape.
        covariance_matrix: ``Sigma``, shape ``batch + (p, p)``.
        precision_matrix: ``Sigma^{-1}``, shape ``batch + (p, p)``.
        scale_tril: lower Cholesky factor of ``Sigma``.
        validate_args: see :class:`Distribution`.

    Raises:
        ValueError: when not exactly one matrix is given, ``df <= p - 1``, or the
            matrix is not positive definite.

    Draws ``L A A^T L^T`` are positive definite in exact arithmetic; in floating
    point one whose condition number passes ``1 / eps`` of the dtype (a
    ``scale_tril`` conditioned past about ``1 / sqrt(eps)``, or ``df`` near
    ``p - 1``, where a chi-square factor of ``A`` is tiny) rounds to a matrix
    that is not numerically positive definite. :meth:`rsample` redraws those
    (as ``torch.distributions`` does) and warns about any left; nothing in the
    dtype can represent them. Use float64 or a better-conditioned scale there.

    Warns:
        UserWarning: when ``df < p``, where samples are often numerically singular.

    Example:
        >>> d = Wishart(torch.tensor(4.0), covariance_matrix=torch.eye(2))
        >>> d.mean
        tensor([[4., 0.],
                [0., 4.]])
    """

    support = constraints.positive_definite
    has_rsample = True
    _mean_carrier_measure = 0

    @property
    def arg_constraints(self):
        return {
            "covariance_matrix": constraints.positive_definite,
            "precision_matrix": constraints.positive_definite,
            "scale_tril": constraints.lower_cholesky,
            "df": constraints.greater_than(self._event_shape[-1] - 1),
        }

    def __init__(
        self, df, covariance_matrix=None, precision_matrix=None, scale_tril=None, validate_args=None
    ):
        name, matrix = select_matrix_argument(
            _OWNER, covariance_matrix, precision_matrix, scale_tril
        )
        batch_shape, self.df = _batch_shape_and_df(df, matrix)
        p = matrix.size(-1)
        _check_df(self.df, p)
        if bool((self.df < p).any()):
            warnings.warn(
                f"{_OWNER}: df < {p} (the dimension): samples are often numerically singular; "
                f"use df >= {p} where the model allows",
                UserWarning,
                stacklevel=2,
            )
        # As in MultivariateNormal: the matrix is set after the base checks and
        # checked here unexpanded; the factorization decides positive-definiteness.
        super().__init__(batch_shape, matrix.shape[-2:], validate_args=validate_args)
        if self._validate_args:
            checker = check_lower_cholesky if name == "scale_tril" else check_symmetric
            checker(_OWNER, name, matrix)
        self._unbroadcasted_scale_tril = scale_tril_of(_OWNER, name, matrix)
        setattr(self, name, matrix.expand(batch_shape + matrix.shape[-2:]))

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Wishart, _instance)
        batch_shape = torch.Size(batch_shape)
        new.df = self.df.expand(batch_shape)
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        for name in ("covariance_matrix", "precision_matrix", "scale_tril"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(batch_shape + self.event_shape))
        super(Wishart, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @lazy_property
    def scale_tril(self):
        return self._unbroadcasted_scale_tril.expand(self._batch_shape + self._event_shape)

    @lazy_property
    def covariance_matrix(self):
        factor = self._unbroadcasted_scale_tril
        return (factor @ factor.mT).expand(self._batch_shape + self._event_shape)

    @lazy_property
    def precision_matrix(self):
        inverse = torch.cholesky_inverse(self._unbroadcasted_scale_tril)
        return inverse.expand(self._batch_shape + self._event_shape)

    def _df_matrix(self):
        return self.df.reshape(self._batch_shape + (1, 1))

    @property
    def mean(self):
        return self._df_matrix() * self.covariance_matrix

    @property
    def mode(self):
        # (df - p - 1) Sigma exists only for df > p + 1.
        factor = self._df_matrix() - self._event_shape[-1] - 1
        factor = factor.masked_fill(factor <= 0, math.nan)
        return factor * self.covariance_matrix

    @property
    def variance(self):
        cov = self.covariance_matrix
        diag = cov.diagonal(dim1=-2, dim2=-1)
        return self._df_matrix() * (cov.pow(2) + diag.unsqueeze(-1) * diag.unsqueeze(-2))

    def _bartlett(self, sample_shape):
        p = self._event_shape[-1]
        shape = sample_shape + self._batch_shape
        factor = self._unbroadcasted_scale_tril
        dof = self.df.unsqueeze(-1) - torch.arange(p, dtype=factor.dtype, device=factor.device)
        chi2 = 2 * torch._standard_gamma((dof / 2).expand(shape + (p,)))
        # A chi-square draw can underflow to 0 for small dof; keep the factor invertible.
        diagonal = chi2.sqrt().clamp(min=torch.finfo(chi2.dtype).eps)
        below = torch.randn(shape + (p, p), dtype=factor.dtype, device=factor.device).tril(-1)
        root = factor @ (below + torch.diag_embed(diagonal))
        sample = root @ root.mT
        return (sample + sample.mT) / 2  # exactly symmetric, as the support requires

    def rsample(self, sample_shape=torch.Size(), max_try_correction=None):
        """Draws by the Bartlett decomposition, redrawing numerically singular samples.

        Args:
            sample_shape: leading shape of the draw.
            max_try_correction: how many times to redraw the samples whose
                Cholesky factorization fails (10 by default).

        Warns:
            UserWarning: if singular samples remain after the redraws; they
                score ``-inf`` or NaN under :meth:`log_prob`.
        """
        sample_shape = torch.Size(sample_shape)
        tries = 10 if max_try_correction is None else max_try_correction
        sample = self._bartlett(sample_shape)
        singular = torch.linalg.cholesky_ex(sample.detach()).info != 0
        for _ in range(tries):
            if not bool(singular.any()):
                break
            fresh = self._bartlett(sample_shape)
            sample = torch.where(singular[..., None, None], fresh, sample)
            singular = torch.linalg.cholesky_ex(sample.detach()).info != 0
        if bool(singular.any()):
            warnings.warn(
                f"{_OWNER}.rsample: {int(singular.sum())} sample(s) are numerically singular "
                f"after {tries} redraws; increase df or max_try_correction",
                UserWarning,
                stacklevel=2,
            )
        return sample

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        nu, p = self.df, self._event_shape[-1]
        factor = self._unbroadcasted_scale_tril
        trace = torch.cholesky_solve(value, factor).diagonal(dim1=-2, dim2=-1).sum(-1)
        log_det_value = torch.linalg.slogdet(value).logabsdet
        return (
            0.5 * (nu - p - 1) * log_det_value
            - 0.5 * trace
            - nu * (0.5 * p * _LOG_2 + half_log_det(factor))
            - torch.mvlgamma(nu / 2, p=p)
        )

    def entropy(self):
        nu, p = self.df, self._event_shape[-1]
        half_nu = nu / 2
        return (
            (p + 1) * (0.5 * p * _LOG_2 + half_log_det(self._unbroadcasted_scale_tril))
            + torch.mvlgamma(half_nu, p=p)
            - 0.5 * (nu - p - 1) * multivariate_digamma(half_nu, p)
            + 0.5 * nu * p
        )

    @property
    def _natural_params(self):
        p = self._event_shape[-1]
        return -0.5 * self.precision_matrix, 0.5 * (self.df - p - 1)

    def _log_normalizer(self, x, y):
        p = self._event_shape[-1]
        half_nu = y + 0.5 * (p + 1)
        log_det_cov = -torch.linalg.slogdet(-2 * x).logabsdet
        return half_nu * (p * _LOG_2 + log_det_cov) + torch.mvlgamma(half_nu, p=p)
