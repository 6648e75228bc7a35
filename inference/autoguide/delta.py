"""``AutoDelta``: a point-mass guide, for maximum a posteriori (MAP) estimation.

With a ``Delta`` guide the ELBO reduces to ``log p(x, z)`` at the point ``z``
(the entropy of a point mass is a constant), so maximizing it finds a mode of
the posterior density in the constrained space of each site.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

import ppl
from distributions import Delta
from inference.autoguide.guide import AutoGuide, LatentSite, detached_copies
from ppl import plate

__all__ = ["AutoDelta"]


class AutoDelta(AutoGuide):
    """One learnable point per latent site: ``Delta(value)``, with ``value`` in the support.

    Each site's value is a parameter named ``"{prefix}.{site}"``, constrained
    to the site's support (stored unconstrained by the parameter store).

    Args:
        model: the model.
        init_loc_fn: the init strategy of the points.
        create_plates: see :class:`~inference.autoguide.guide.AutoGuide`.
        prefix: the prefix of the parameter names.

    Example:
        >>> import ppl, torch
        >>> from distributions import Normal
        >>> def model():
        ...     ppl.sample("x", Normal(2.0, 1.0))
        >>> guide = AutoDelta(model, init_loc_fn=lambda site: torch.tensor(0.5))
        >>> guide()["x"].item(), guide.median()["x"].item()
        (0.5, 0.5)
    """

    def _value(self, site: LatentSite, read: Callable[..., torch.Tensor]) -> torch.Tensor:
        return read(
            self._param_name(site.name),
            lambda: site.transform(site.init),
            constraint=site.support,
            event_dim=site.event_dim,
        )

    def _param_name(self, kind: str, site_name: str | None = None) -> str:
        # Pyro's naming: "AutoDelta.x" rather than "AutoDelta.values.x".
        return f"{self.prefix}.{kind}" if site_name is None else f"{self.prefix}.{site_name}"

    def _sample_sites(self, plates: dict[str, plate]) -> dict[str, torch.Tensor]:
        result = {}
        for site in self.sites.values():
            with self._in_plates(site, plates):
                value = self._value(site, ppl.param)
                fn = Delta(value, event_dim=site.event_dim, validate_args=False)
                result[site.name] = ppl.sample(site.name, fn)
        return result

    def median(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
        """The point of each site (the MAP estimate once fitted)."""
        self.prepare(*args, **kwargs)
        store = ppl.get_param_store()
        with torch.no_grad():
            points = {name: self._value(site, store.get_param) for name, site in self.sites.items()}
        return detached_copies(points)

    def quantiles(
        self, quantiles: Sequence[float] | torch.Tensor, *args: Any, **kwargs: Any
    ) -> dict[str, torch.Tensor]:
        """Every quantile of a point mass is the point: ``(len(quantiles), *shape)`` copies."""
        points = self.median(*args, **kwargs)
        count = len(quantiles)
        return {
            name: value.expand((count,) + value.shape).clone() for name, value in points.items()
        }

    def sample_posterior(
        self, num_samples: int, *args: Any, **kwargs: Any
    ) -> dict[str, torch.Tensor]:
        """The point of each site, repeated: ``(num_samples, *shape)``."""
        points = self.median(*args, **kwargs)
        return {
            name: value.expand((num_samples,) + value.shape).clone()
            for name, value in points.items()
        }
