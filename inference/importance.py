"""``Importance``: self-normalized importance sampling with a guide as the proposal.

Draw ``z_i ~ q`` (the guide, or the prior), weigh each by
``w_i = p(x, z_i) / q(z_i)``; then ``mean(w_i)`` estimates the evidence
``p(x)`` without bias, ``w_i / sum(w)`` weighs the draws towards the
posterior, and ``(sum w)^2 / sum(w^2)`` is Kong's effective sample size
(Kong 1992, "A note on importance sampling using standardized weights",
Technical Report 348, University of Chicago; see also Owen, "Monte Carlo
theory, methods and examples", ch. 9). All draws run in one vectorized pass
(see :mod:`inference.sample_map`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from inference.autoguide import AutoGuide
from inference.sample_map import SampleMap
from inference.traces import trace_pair
from ppl.handlers import trace

__all__ = ["Importance"]

_LOG_WEIGHT = "_log_weight"


class Importance:
    """Importance sampling of a model's posterior and evidence.

    Args:
        model: the model, with its data observed.
        guide: the proposal; ``None`` proposes from the prior, so the weights
            are the likelihoods.
        num_samples: how many weighted draws.
        parallel: vectorize over draws (the default) or loop in Python.

    Attributes:
        log_weights: ``(num_samples,)`` log importance weights after :meth:`run`.
        samples: dict of latent site name to ``(num_samples, *shape)`` draws.

    Example:
        >>> import ppl, torch
        >>> from distributions import Normal
        >>> def model():
        ...     z = ppl.sample("z", Normal(0.0, 1.0))
        ...     ppl.sample("x", Normal(z, 1.0), obs=torch.tensor(0.0))
        >>> imp = Importance(model, num_samples=20000).run()
        >>> exact = Normal(0.0, 2.0**0.5).log_prob(torch.tensor(0.0))
        >>> abs(imp.log_evidence - exact).item() < 0.05
        True
    """

    def __init__(
        self,
        model: Callable[..., Any],
        guide: Callable[..., Any] | None = None,
        num_samples: int = 1000,
        parallel: bool = True,
    ) -> None:
        if not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f"Importance: num_samples must be a positive int, got {num_samples!r}")
        self.model = model
        self.guide = guide
        self.num_samples = num_samples
        self.log_weights: torch.Tensor | None = None
        self.samples: dict[str, torch.Tensor] | None = None
        self._map = SampleMap("Importance", parallel=parallel)

    def run(self, *args: Any, **kwargs: Any) -> Importance:
        """Draws and weighs ``num_samples`` samples; returns ``self``."""
        if isinstance(self.guide, AutoGuide):
            self.guide.prepare(*args, **kwargs)  # outside vmap: the set-up checks values
        with torch.no_grad():
            draws = self._map(self._one_draw(args, kwargs), self.num_samples, {})
        self.log_weights = draws.pop(_LOG_WEIGHT)
        self.samples = draws
        return self

    def _one_draw(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Callable[..., Any]:
        def draw(index: int, values: Any) -> Any:
            if self.guide is None:
                model_trace = trace(self.model).get_trace(*args, **kwargs)
                log_weight = model_trace.log_prob_sum(lambda name, site: site.is_observed)
            else:
                model_trace, guide_trace, _ = trace_pair(self.model, self.guide, args, kwargs)
                log_weight = model_trace.log_prob_sum() - guide_trace.log_prob_sum()
            result = {name: site.value for name, site in model_trace.iter_stochastic_nodes()}
            result[_LOG_WEIGHT] = log_weight
            return result

        return draw

    def _require_run(self) -> torch.Tensor:
        if self.log_weights is None:
            raise RuntimeError("Importance: no weights yet; call .run(*model_args) first")
        return self.log_weights

    @property
    def log_evidence(self) -> torch.Tensor:
        """``log mean(w)``: the log of the unbiased evidence estimate (a 0-dim tensor)."""
        log_weights = self._require_run()
        return torch.logsumexp(log_weights, 0) - math.log(log_weights.shape[0])

    @property
    def normalized_weights(self) -> torch.Tensor:
        """``w_i / sum(w)``, shaped ``(num_samples,)``."""
        return torch.softmax(self._require_run(), 0)

    @property
    def ess(self) -> torch.Tensor:
        """Kong's effective sample size ``(sum w)^2 / sum(w^2)``, in ``[1, num_samples]``."""
        return 1.0 / self.normalized_weights.pow(2).sum()

    def get_log_normalizer(self) -> torch.Tensor:
        """Pyro's name for :attr:`log_evidence`."""
        return self.log_evidence

    def get_normalized_weights(self) -> torch.Tensor:
        """Pyro's name for :attr:`normalized_weights`."""
        return self.normalized_weights

    def get_ESS(self) -> torch.Tensor:
        """Pyro's name for :attr:`ess`."""
        return self.ess

    def mean(self, site: str) -> torch.Tensor:
        """The self-normalized estimate of the posterior mean of ``site``."""
        weights = self.normalized_weights
        assert self.samples is not None  # set by run() with the weights just read
        values = self.samples[site]
        return (weights.reshape((-1,) + (1,) * (values.dim() - 1)) * values).sum(0)

    def resample(self, num_samples: int | None = None) -> dict[str, torch.Tensor]:
        """Draws approximately posterior samples by multinomial resampling on the weights.

        Args:
            num_samples: how many (``num_samples`` of the run by default).

        Returns:
            A dict of site name to ``(num_samples, *shape)``.
        """
        weights = self.normalized_weights
        count = weights.shape[0] if num_samples is None else num_samples
        index = torch.multinomial(weights, count, replacement=True)
        assert self.samples is not None  # set by run() with the weights just read
        return {name: value[index] for name, value in self.samples.items()}
