"""``AutoContinuous``: joint guides over all latents flattened into one vector.

Every latent site is mapped to unconstrained space and the pieces are
concatenated into one vector ``u`` of size ``latent_dim``; a subclass gives
the family of ``u`` (diagonal, full-rank or low-rank Gaussian). This is the
full-rank family of automatic differentiation variational inference
(Kucukelbir et al. 2017, JMLR 18).

The guide emits each site as a ``Delta`` at ``biject_to(support)(u_site)``
inside the site's plates, carrying its share of ``log q(u)`` minus the
site's log-Jacobian as the Delta's ``log_density``, so the guide trace's
total log-probability is exactly the change-of-variables density of the
sites. Each family splits ``log q(u)`` into per-coordinate terms (the chain
rule of the density along a triangular factor where it has one) so no
auxiliary site is needed.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

import ppl
from distributions import Delta, Distribution, Normal, constraints
from distributions.distribution import ShapeLike
from distributions.utils import sum_rightmost
from inference.autoguide.guide import AutoGuide, detached_copies, normal_icdf
from inference.autoguide.initialization import init_to_median
from ppl import plate
from ppl.runtime import Message

__all__ = ["AutoContinuous", "AutoDiagonalNormal"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def standard_normal_parts(eps: torch.Tensor, log_scale_diag: torch.Tensor) -> Any:
    """Per-coordinate terms of ``log q(u)`` for ``u = loc + L eps`` with triangular ``L``.

    ``log q(u) = sum_j [log N(eps_j; 0, 1) - log L_jj]``.

    Example:
        >>> round(standard_normal_parts(torch.zeros(2), torch.zeros(2)).sum().item(), 4)
        -1.8379
    """
    return -0.5 * eps * eps - _HALF_LOG_2PI - log_scale_diag


class AutoContinuous(AutoGuide):
    """Base of guides over the concatenated unconstrained latent vector.

    Subclasses define :meth:`_draw` (a reparameterized draw of ``u`` with its
    per-coordinate log-density terms) and :meth:`_marginals` (the location
    and marginal standard deviation of each coordinate).

    Args:
        model: the model.
        init_loc_fn: the init strategy of the location.
        init_scale: the initial scale of every unconstrained coordinate.
        create_plates: see :class:`~inference.autoguide.guide.AutoGuide`.
        prefix: the prefix of the parameter names.

    Raises:
        ValueError: on the first call, when a plate of the model is
            subsampled (a joint guide covers every element at once).
    """

    def __init__(
        self,
        model: Callable[..., Any],
        *,
        init_loc_fn: Callable[[Message], torch.Tensor] = init_to_median,
        init_scale: float = 0.1,
        create_plates: Callable[..., Any] | None = None,
        prefix: str | None = None,
    ) -> None:
        if not init_scale > 0:
            raise ValueError(
                f"{type(self).__name__}: init_scale must be positive, got {init_scale!r}"
            )
        super().__init__(model, init_loc_fn=init_loc_fn, create_plates=create_plates, prefix=prefix)
        self.init_scale = float(init_scale)
        self.latent_dim: int | None = None
        self._slices: dict[str, tuple[int, int]] = {}

    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        super()._setup_prototype(*args, **kwargs)
        for frame in self._frames.values():
            if frame.subsample_size != frame.size:
                raise ValueError(
                    f"{type(self).__name__}: plate '{frame.name}' is subsampled "
                    f"({frame.subsample_size} of {frame.size}), but a joint guide covers "
                    "every element at once; use AutoNormal (or AutoDelta) to subsample"
                )
        offset = 0
        for name, site in self.sites.items():
            size = site.init.numel()
            self._slices[name] = (offset, offset + size)
            offset += size
        self.latent_dim = offset
        self._init_loc = torch.cat([site.init.reshape(-1) for site in self.sites.values()])

    def _loc(self) -> torch.Tensor:
        return ppl.param(self._param_name("loc"), self._init_loc.clone)

    @abc.abstractmethod
    def _draw(self, sample_shape: ShapeLike) -> Any:
        """Returns ``(u, parts)``, both ``sample_shape + (latent_dim,)``; ``parts`` sum to log q."""

    @abc.abstractmethod
    def get_posterior(self, *args: Any, **kwargs: Any) -> Distribution:
        """The guide's distribution of the unconstrained vector ``u`` (event ``(latent_dim,)``)."""

    @abc.abstractmethod
    def _marginals(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns the location and marginal standard deviations, each ``(latent_dim,)``."""

    def unpack(self, u: torch.Tensor, outer: torch.Size | None = None) -> dict[str, torch.Tensor]:
        """Splits a vector ``(..., latent_dim)`` into unconstrained site values.

        Args:
            u: the vector, with any leading dims.
            outer: when given, the leading dims of ``u`` are this batch shape of
                outer plates, aligned to the left of each site's plate dims.

        Returns:
            A dict of site name to ``(..., *unconstrained_shape)``.
        """
        result = {}
        for name, (start, stop) in self._slices.items():
            site = self.sites[name]
            lead = u.shape[:-1]
            if outer is not None:
                site_batch = len(site.shape) - site.event_dim
                lead = outer[: max(len(outer) - site_batch, 0)]
            result[name] = u[..., start:stop].reshape(lead + site.unconstrained_shape)
        return result

    def _sample_sites(self, plates: dict[str, plate]) -> dict[str, torch.Tensor]:
        # Under vectorized particles each particle needs its own draw of u.
        outer = self._outer_batch_shape()
        u, parts = self._draw(outer)
        values, part_values = self.unpack(u, outer), self.unpack(parts, outer)
        result = {}
        for name, site in self.sites.items():
            unconstrained = values[name]
            value = site.transform(unconstrained)
            log_density = sum_rightmost(part_values[name], site.unconstrained_event_dim)
            log_det = site.transform.log_abs_det_jacobian(unconstrained, value)
            extra = site.unconstrained_event_dim - site.transform.domain.event_dim
            log_density = log_density - sum_rightmost(log_det, extra)
            with self._in_plates(site, plates):
                fn = Delta(value, log_density, event_dim=site.event_dim, validate_args=False)
                result[name] = ppl.sample(name, fn)
        return result

    def _constrain(self, u: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: self.sites[name].transform(x) for name, x in self.unpack(u).items()}

    def median(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
        """The image of the location of ``u`` (the posterior median of each site)."""
        self.prepare(*args, **kwargs)
        with torch.no_grad():
            return detached_copies(self._constrain(self._marginals()[0]))

    def quantiles(
        self, quantiles: Sequence[float] | torch.Tensor, *args: Any, **kwargs: Any
    ) -> dict[str, torch.Tensor]:
        """Marginal quantiles of each unconstrained coordinate, mapped to each site.

        Returns:
            A dict of site name to ``(len(quantiles), *site_shape)``.
        """
        self.prepare(*args, **kwargs)
        with torch.no_grad():
            loc, scale = self._marginals()
            z = normal_icdf(quantiles, loc).unsqueeze(-1)
            return detached_copies(self._constrain(loc + scale * z))

    def sample_posterior(
        self, num_samples: int, *args: Any, **kwargs: Any
    ) -> dict[str, torch.Tensor]:
        """Draws ``num_samples`` joint samples in one vectorized pass (no handlers run).

        Returns:
            A dict of site name to ``(num_samples, *site_shape)``.
        """
        self.prepare(*args, **kwargs)
        with torch.no_grad():
            return detached_copies(self._constrain(self._draw((num_samples,))[0]))


class AutoDiagonalNormal(AutoContinuous):
    """A diagonal Gaussian over the concatenated unconstrained latents.

    Parameters ``"{prefix}.loc"`` and ``"{prefix}.scale"``, each ``(latent_dim,)``.

    Example:
        >>> import ppl
        >>> from distributions import Normal
        >>> def model():
        ...     ppl.sample("a", Normal(0.0, 1.0))
        ...     with ppl.plate("p", 3):
        ...         ppl.sample("b", Normal(0.0, 1.0))
        >>> guide = AutoDiagonalNormal(model)
        >>> {k: tuple(v.shape) for k, v in guide().items()}, guide.latent_dim
        ({'a': (), 'b': (3,)}, 4)
    """

    def _scale(self) -> torch.Tensor:
        return ppl.param(
            self._param_name("scale"),
            lambda: torch.full_like(self._init_loc, self.init_scale),
            constraint=constraints.positive,
        )

    def _draw(self, sample_shape: ShapeLike) -> Any:
        loc, scale = self._loc(), self._scale()
        eps = torch.randn(torch.Size(sample_shape) + loc.shape, dtype=loc.dtype, device=loc.device)
        return loc + scale * eps, standard_normal_parts(eps, scale.log())

    def _marginals(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._loc(), self._scale()

    def get_posterior(self, *args: Any, **kwargs: Any) -> Distribution:
        """``Normal(loc, scale).to_event(1)`` over the unconstrained vector."""
        self.prepare(*args, **kwargs)
        return Normal(self._loc(), self._scale()).to_event(1)
