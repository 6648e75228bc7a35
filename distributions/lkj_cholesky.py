"""``LKJCholesky``: the LKJ law on Cholesky factors of correlation matrices."""

import math

import torch

from distributions import constraints
from distributions.distribution import Distribution
from distributions.utils import broadcast_all

__all__ = ["LKJCholesky"]


def _row_shapes(concentration, dim):
    """Beta parameters ``(a_k, b_k)`` of the squared norm of row ``k = 1 .. dim-1``.

    In the onion method row ``k`` of the factor is ``sqrt(y_k) u_k`` with ``u_k``
    uniform on the sphere in ``R^k`` and ``y_k ~ Beta(k/2, eta + (dim-1-k)/2)``
    (Lewandowski, Kurowicka & Joe 2009, Sec. 3.2, with ``beta`` decreasing by
    one half per added row).
    """
    k = torch.arange(1, dim, dtype=concentration.dtype, device=concentration.device)
    return k / 2, concentration.unsqueeze(-1) + (dim - 1 - k) / 2


class LKJCholesky(Distribution):
    """Lower Cholesky factors ``L`` of correlation matrices with ``p(L L^T) ∝ det(L L^T)^(eta-1)``.

    ``concentration`` (``eta``) 1 is uniform over correlation matrices; larger
    values favour the identity, smaller ones strong correlations. Densities are
    with respect to the strictly lower entries of ``L`` (each row has unit norm,
    so the diagonal is determined): ``log p(L) = sum_{i=2}^{d} (2 eta - 2 + d - i)
    log L_ii - log Z`` with, from the onion construction,
    ``log Z = sum_{k=1}^{d-1} [k/2 log pi + lgamma(beta_k) - lgamma(eta + (d-1)/2)]``,
    ``beta_k = eta + (d-1-k)/2``.

    Sampling is the onion method of Lewandowski, Kurowicka & Joe (2009),
    "Generating random correlation matrices based on vines and extended onion
    method", J. Multivariate Anal. 100(9), Sec. 3.2, written for the Cholesky
    factor: row ``k`` is ``(sqrt(y_k) u_k, sqrt(1 - y_k))`` with ``y_k`` and
    ``u_k`` as in the paper. Each ``y_k`` is a ratio of gamma draws, and
    ``1 - y_k`` is taken from the complementary ratio so the diagonal keeps full
    precision when ``y_k`` is close to 1.

    Args:
        dim: size of the matrices, at least 2.
        concentration: ``eta > 0``, a number or a tensor of batch shape.
        validate_args: see :class:`Distribution`.

    Raises:
        ValueError: when ``dim`` is not an integer of at least 2.

    Example:
        >>> d = LKJCholesky(3, 2.0)
        >>> L = d.sample()
        >>> torch.allclose((L @ L.mT).diagonal(), torch.ones(3))
        True
    """

    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2:
            raise ValueError(
                f"LKJCholesky: dim must be an integer >= 2 (the size of the correlation "
                f"matrices), got {dim!r}"
            )
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        super().__init__(
            self.concentration.shape, torch.Size((dim, dim)), validate_args=validate_args
        )

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LKJCholesky, _instance)
        batch_shape = torch.Size(batch_shape)
        new.dim = self.dim
        new.concentration = self.concentration.expand(batch_shape)
        super(LKJCholesky, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=torch.Size()):
        with torch.no_grad():
            shape = torch.Size(sample_shape) + self._batch_shape
            a, b = _row_shapes(self.concentration, self.dim)
            g_norm = torch._standard_gamma(a.expand(shape + a.shape[-1:]))
            g_rest = torch._standard_gamma(b.expand(shape + b.shape[-1:]))
            total = g_norm + g_rest
            tiny = torch.finfo(total.dtype).tiny
            # Rows 1..d-1: squared off-diagonal norm y_k and diagonal^2 = 1 - y_k.
            y = (g_norm / total).unsqueeze(-1)
            diag = (g_rest / total).clamp(min=tiny).sqrt()
            # Row k of a strictly lower Gaussian matrix has k entries: normalised,
            # it is uniform on the sphere in R^k.
            z = torch.randn(shape + (self.dim - 1, self.dim), dtype=a.dtype, device=a.device)
            z = z.tril()
            below = y.sqrt() * z / z.norm(dim=-1, keepdim=True)
            rows = below + torch.diag_embed(diag, offset=1)[..., :-1, :]
            first = torch.zeros(shape + (1, self.dim), dtype=a.dtype, device=a.device)
            first[..., 0, 0] = 1.0
            return torch.cat([first, rows], dim=-2)

    def _log_normalizer(self):
        a, b = _row_shapes(self.concentration, self.dim)
        alpha = self.concentration.unsqueeze(-1) + 0.5 * (self.dim - 1)
        return (a * math.log(math.pi) + torch.lgamma(b) - torch.lgamma(alpha)).sum(-1)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        i = torch.arange(2, self.dim + 1, dtype=value.dtype, device=value.device)
        exponent = 2 * (self.concentration.unsqueeze(-1) - 1) + self.dim - i
        log_diag = value.diagonal(dim1=-2, dim2=-1)[..., 1:].log()
        return (exponent * log_diag).sum(-1) - self._log_normalizer()
