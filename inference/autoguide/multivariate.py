"""Correlated Gaussian guides: full-rank and low-rank-plus-diagonal covariances.

``AutoMultivariateNormal`` learns a Cholesky factor ``L`` of the covariance,
the full-rank family of ADVI (Kucukelbir et al. 2017, JMLR 18).
``AutoLowRankMultivariateNormal`` learns ``Sigma = W W^T + diag(s^2)`` with a
``latent_dim x rank`` factor ``W``, whose density costs ``O(latent_dim *
rank^2)`` through the Woodbury identity and the matrix determinant lemma
(Ong, Nott and Smith 2018, "Gaussian variational approximation with a factor
covariance structure", JCGS 27).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

import ppl
from distributions import Distribution, LowRankMultivariateNormal, MultivariateNormal, constraints
from distributions.distribution import ShapeLike
from inference.autoguide.continuous import AutoContinuous, standard_normal_parts
from inference.autoguide.initialization import init_to_median
from ppl.runtime import Message

__all__ = ["AutoMultivariateNormal", "AutoLowRankMultivariateNormal", "low_rank_log_density"]

_LOG_2PI = math.log(2 * math.pi)


class AutoMultivariateNormal(AutoContinuous):
    """A Gaussian with a full covariance over the concatenated unconstrained latents.

    Parameters ``"{prefix}.loc"`` ``(latent_dim,)`` and ``"{prefix}.scale_tril"``
    ``(latent_dim, latent_dim)``, lower triangular with a positive diagonal.

    Example:
        >>> import ppl
        >>> from distributions import Normal
        >>> def model():
        ...     x = ppl.sample("x", Normal(0.0, 1.0))
        ...     ppl.sample("y", Normal(x, 1.0))
        >>> guide = AutoMultivariateNormal(model)
        >>> guide.sample_posterior(5)["y"].shape, guide.latent_dim
        (torch.Size([5]), 2)
    """

    def _scale_tril(self) -> torch.Tensor:
        return ppl.param(
            self._param_name("scale_tril"),
            lambda: self.init_scale * torch.eye(self.latent_dim, dtype=self._init_loc.dtype),
            constraint=constraints.lower_cholesky,
        )

    def _draw(self, sample_shape: ShapeLike) -> Any:
        loc, scale_tril = self._loc(), self._scale_tril()
        eps = torch.randn(torch.Size(sample_shape) + loc.shape, dtype=loc.dtype, device=loc.device)
        u = loc + eps @ scale_tril.mT
        # With u = loc + L eps and L triangular, log q(u) splits coordinate by coordinate.
        return u, standard_normal_parts(eps, scale_tril.diagonal().log())

    def _marginals(self) -> tuple[torch.Tensor, torch.Tensor]:
        scale_tril = self._scale_tril()
        return self._loc(), scale_tril.pow(2).sum(-1).sqrt()

    def get_posterior(self, *args: Any, **kwargs: Any) -> Distribution:
        """``MultivariateNormal(loc, scale_tril=L)`` over the unconstrained vector."""
        self.prepare(*args, **kwargs)
        return MultivariateNormal(self._loc(), scale_tril=self._scale_tril())


class AutoLowRankMultivariateNormal(AutoContinuous):
    """A Gaussian with covariance ``W W^T + diag(scale^2)`` over the unconstrained latents.

    Parameters ``"{prefix}.loc"``, ``"{prefix}.cov_factor"`` ``(latent_dim,
    rank)`` and ``"{prefix}.scale"`` ``(latent_dim,)``. ``log q(u)`` has no
    triangular factor to split it by coordinate, so it is shared evenly
    among the coordinates (only its total enters the ELBO).

    Args:
        model: the model.
        init_loc_fn: the init strategy of the location.
        init_scale: the initial marginal scale is about ``init_scale * sqrt(2)``.
        rank: the rank of ``W``; ``round(sqrt(latent_dim))`` by default.
        create_plates: see :class:`~inference.autoguide.guide.AutoGuide`.
        prefix: the prefix of the parameter names.

    Example:
        >>> import ppl, torch
        >>> from distributions import Normal
        >>> def model():
        ...     ppl.sample("x", Normal(torch.zeros(4), 1.0).to_event(1))
        >>> guide = AutoLowRankMultivariateNormal(model, rank=2)
        >>> guide()["x"].shape
        torch.Size([4])
    """

    def __init__(
        self,
        model: Callable[..., Any],
        *,
        init_loc_fn: Callable[[Message], torch.Tensor] = init_to_median,
        init_scale: float = 0.1,
        rank: int | None = None,
        create_plates: Callable[..., Any] | None = None,
        prefix: str | None = None,
    ) -> None:
        if rank is not None and (not isinstance(rank, int) or rank < 1):
            raise ValueError(
                f"AutoLowRankMultivariateNormal: rank must be a positive int, got {rank!r}"
            )
        super().__init__(
            model,
            init_loc_fn=init_loc_fn,
            init_scale=init_scale,
            create_plates=create_plates,
            prefix=prefix,
        )
        self.rank = rank

    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        super()._setup_prototype(*args, **kwargs)
        if self.rank is None:
            self.rank = max(1, round(self.latent_dim**0.5))
        shape = (self.latent_dim, self.rank)
        scale = self.init_scale / self.rank**0.5
        self._init_cov_factor = scale * torch.randn(shape, dtype=self._init_loc.dtype)

    def _factors(self) -> tuple[torch.Tensor, torch.Tensor]:
        cov_factor = ppl.param(self._param_name("cov_factor"), self._init_cov_factor.clone)
        scale = ppl.param(
            self._param_name("scale"),
            lambda: torch.full_like(self._init_loc, self.init_scale),
            constraint=constraints.positive,
        )
        return cov_factor, scale

    def _draw(self, sample_shape: ShapeLike) -> Any:
        loc = self._loc()
        cov_factor, scale = self._factors()
        shape = torch.Size(sample_shape)
        z = torch.randn(shape + (self.rank,), dtype=loc.dtype, device=loc.device)
        eps = torch.randn(shape + loc.shape, dtype=loc.dtype, device=loc.device)
        u = loc + z @ cov_factor.mT + scale * eps
        log_q = low_rank_log_density(u - loc, cov_factor, scale)
        return u, (log_q / self.latent_dim).unsqueeze(-1).expand(u.shape)

    def _marginals(self) -> tuple[torch.Tensor, torch.Tensor]:
        cov_factor, scale = self._factors()
        return self._loc(), (cov_factor.pow(2).sum(-1) + scale.pow(2)).sqrt()

    def get_posterior(self, *args: Any, **kwargs: Any) -> Distribution:
        """``LowRankMultivariateNormal(loc, W, scale^2)`` over the unconstrained vector."""
        self.prepare(*args, **kwargs)
        cov_factor, scale = self._factors()
        return LowRankMultivariateNormal(self._loc(), cov_factor, scale.pow(2))


def low_rank_log_density(
    residual: torch.Tensor, cov_factor: torch.Tensor, scale: torch.Tensor
) -> torch.Tensor:
    """``log N(residual; 0, W W^T + diag(scale^2))`` in ``O(D r^2)``.

    Uses the capacitance ``C = I + W^T D^{-1} W`` (``D = diag(scale^2)``):
    ``Sigma^{-1} = D^{-1} - D^{-1} W C^{-1} W^T D^{-1}`` (Woodbury) and
    ``log det Sigma = log det C + log det D`` (matrix determinant lemma).

    Args:
        residual: ``(..., D)``.
        cov_factor: ``W``, ``(D, r)``.
        scale: ``(D,)``, positive.

    Returns:
        The log-density, shaped ``residual.shape[:-1]``.

    Example:
        >>> r, W, s = torch.randn(3), torch.randn(3, 1), torch.ones(3)
        >>> cov = W @ W.T + torch.eye(3)
        >>> exact = -0.5 * (3 * _LOG_2PI + cov.logdet() + r @ torch.linalg.solve(cov, r))
        >>> torch.allclose(low_rank_log_density(r, W, s), exact, atol=1e-5)
        True
    """
    inv_diag = scale.pow(-2)
    weighted = cov_factor * inv_diag.unsqueeze(-1)
    rank = cov_factor.shape[-1]
    capacitance = torch.eye(rank, dtype=scale.dtype, device=scale.device)
    capacitance = capacitance + cov_factor.mT @ weighted
    chol = torch.linalg.cholesky(capacitance)
    projected = (residual @ weighted).unsqueeze(-1)
    solved = torch.linalg.solve_triangular(chol, projected, upper=False).squeeze(-1)
    mahalanobis = (residual.pow(2) * inv_diag).sum(-1) - solved.pow(2).sum(-1)
    log_det = 2 * chol.diagonal().log().sum() + 2 * scale.log().sum()
    return -0.5 * (residual.shape[-1] * _LOG_2PI + log_det + mahalanobis)
