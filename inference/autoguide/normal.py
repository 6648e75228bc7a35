"""``AutoNormal``: a mean-field Gaussian guide with one location and scale per site.

Each latent site ``z`` gets ``u ~ Normal(loc, scale)`` in unconstrained space
and ``z = biject_to(support)(u)``, the mean-field family of automatic
differentiation variational inference (Kucukelbir et al. 2017, JMLR 18). The
parameters of a site inside plates are shaped like the site, with each plate
at its full size, so local latents keep their plate dims and subsampling
selects their rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

import ppl
from distributions import Distribution, Normal, TransformedDistribution, constraints
from inference.autoguide.guide import (
    AutoGuide,
    LatentSite,
    detached_copies,
    is_identity,
    normal_icdf,
)
from inference.autoguide.initialization import init_to_feasible
from ppl import plate
from ppl.runtime import Message

__all__ = ["AutoNormal"]


class AutoNormal(AutoGuide):
    """Independent normals in unconstrained space, one ``loc``/``scale`` pair per site.

    Parameters are named ``"{prefix}.locs.{site}"`` and
    ``"{prefix}.scales.{site}"``.

    Args:
        model: the model.
        init_loc_fn: the init strategy of the locations; as in Pyro, by
            default :func:`~inference.autoguide.initialization.init_to_feasible`
            (the image of zero in unconstrained space), so a fit starts at the
            same point every run. The joint guides and ``AutoDelta`` default to
            ``init_to_median``, as Pyro's do.
        init_scale: the initial scale of every unconstrained coordinate.
        create_plates: see :class:`~inference.autoguide.guide.AutoGuide`.
        prefix: the prefix of the parameter names.

    Example:
        >>> import ppl, torch
        >>> from distributions import Normal
        >>> def model(data):
        ...     loc = ppl.sample("loc", Normal(0.0, 10.0))
        ...     with ppl.plate("data", len(data)):
        ...         ppl.sample("obs", Normal(loc, 1.0), obs=data)
        >>> guide = AutoNormal(model)
        >>> sorted(guide(torch.zeros(3)))
        ['loc']
        >>> guide.sample_posterior(100, torch.zeros(3))["loc"].shape
        torch.Size([100])
    """

    def __init__(
        self,
        model: Callable[..., Any],
        *,
        init_loc_fn: Callable[[Message], torch.Tensor] = init_to_feasible,
        init_scale: float = 0.1,
        create_plates: Callable[..., Any] | None = None,
        prefix: str | None = None,
    ) -> None:
        if not init_scale > 0:
            raise ValueError(f"AutoNormal: init_scale must be positive, got {init_scale!r}")
        super().__init__(model, init_loc_fn=init_loc_fn, create_plates=create_plates, prefix=prefix)
        self.init_scale = float(init_scale)

    def _params(
        self, site: LatentSite, read: Callable[..., torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        event_dim = site.unconstrained_event_dim
        loc = read(
            self._param_name("locs", site.name),
            site.init.clone,
            event_dim=event_dim,
        )
        scale = read(
            self._param_name("scales", site.name),
            lambda: torch.full_like(site.init, self.init_scale),
            constraint=constraints.positive,
            event_dim=event_dim,
        )
        return loc, scale

    def _stored_params(self, site: LatentSite) -> tuple[torch.Tensor, torch.Tensor]:
        store = ppl.get_param_store()
        return self._params(site, store.get_param)

    def _sample_sites(self, plates: dict[str, plate]) -> dict[str, torch.Tensor]:
        result = {}
        for site in self.sites.values():
            with self._in_plates(site, plates):
                loc, scale = self._params(site, ppl.param)
                result[site.name] = ppl.sample(site.name, _site_distribution(site, loc, scale))
        return result

    def median(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
        """The posterior median of each site: the image of ``loc`` (full plate sizes).

        Args:
            *args: the model's arguments (needed before the first call).
            **kwargs: the model's keyword arguments.
        """
        self.prepare(*args, **kwargs)
        with torch.no_grad():
            return detached_copies(
                {
                    name: site.transform(self._stored_params(site)[0])
                    for name, site in self.sites.items()
                }
            )

    def quantiles(
        self, quantiles: Sequence[float] | torch.Tensor, *args: Any, **kwargs: Any
    ) -> dict[str, torch.Tensor]:
        """Marginal posterior quantiles of each site, mapped through its bijection.

        Exact for sites whose bijection acts elementwise and increases; for a
        multivariate bijection (the simplex's) they are the images of the
        unconstrained quantiles.

        Args:
            quantiles: a list or tensor of levels in ``(0, 1)``.
            *args: the model's arguments (needed before the first call).
            **kwargs: the model's keyword arguments.

        Returns:
            A dict of site name to a tensor of shape ``(len(quantiles), *site_shape)``.
        """
        self.prepare(*args, **kwargs)
        result = {}
        with torch.no_grad():
            for name, site in self.sites.items():
                loc, scale = self._stored_params(site)
                z = normal_icdf(quantiles, loc).reshape((-1,) + (1,) * loc.dim())
                result[name] = site.transform(loc + scale * z)
        return detached_copies(result)

    def sample_posterior(
        self, num_samples: int, *args: Any, **kwargs: Any
    ) -> dict[str, torch.Tensor]:
        """Draws ``num_samples`` joint samples in one vectorized pass (no handlers run).

        Args:
            num_samples: how many draws.
            *args: the model's arguments (needed before the first call).
            **kwargs: the model's keyword arguments.

        Returns:
            A dict of site name to a tensor of shape ``(num_samples, *site_shape)``.
        """
        self.prepare(*args, **kwargs)
        result = {}
        with torch.no_grad():
            for name, site in self.sites.items():
                loc, scale = self._stored_params(site)
                eps = torch.randn((num_samples,) + loc.shape, dtype=loc.dtype, device=loc.device)
                result[name] = site.transform(loc + scale * eps)
        return detached_copies(result)


def _site_distribution(site: LatentSite, loc: torch.Tensor, scale: torch.Tensor) -> Distribution:
    # The parameters satisfy their constraints by construction: skip the checks.
    base: Distribution = Normal(loc, scale, validate_args=False)
    if site.unconstrained_event_dim:
        base = base.to_event(site.unconstrained_event_dim)
    if is_identity(site.transform):
        return base
    return TransformedDistribution(base, site.transform, validate_args=False)
