"""``Predictive``: posterior (and prior) predictive samples of a model's sites.

For each of ``num_samples`` posterior draws of the latent sites (from a
guide, or given), the model runs once with the latents fixed; observed sites
are drawn afresh, which gives the posterior predictive distribution
``p(x_new | x) = E_{p(z | x)}[p(x_new | z)]`` used for posterior predictive
checks (Gelman, Meng and Stern 1996, "Posterior predictive assessment of
model fitness via realized discrepancies", Statistica Sinica 6). Without
posterior draws it samples the prior predictive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch

from inference.sample_map import SampleMap
from ppl.handlers import trace
from ppl.runtime import Message, Messenger
from ppl.trace_struct import Trace

__all__ = ["Predictive"]


class _fix_latents(Messenger):
    # Latent sites named in `values` take those values; observed sites not
    # named there are drawn afresh. Deterministic and factor sites keep their
    # own values.

    def __init__(self, fn: Callable[..., Any] | None, values: Mapping[str, torch.Tensor]) -> None:
        super().__init__(fn)
        self.values = values

    def _process_sample(self, msg: Message) -> None:
        value = self.values.get(msg.name)
        if value is not None:
            msg.value = value
            msg.done = True
        elif msg.is_observed and not (
            msg.infer.get("_deterministic") or msg.infer.get("is_auxiliary")
        ):
            msg.is_observed = False
            msg.value = None
            msg.done = False


class Predictive:
    """Samples a model's sites given posterior draws of its latents.

    Latent draws come from ``posterior_samples`` (a dict of site name to
    tensors with a leading ``num_samples`` dim), from ``guide`` (for the
    sites not in ``posterior_samples``), or from the prior when neither is
    given. Each model run fixes those latents and draws every other site,
    observed sites included: a site keeps data only when its values are
    passed in ``posterior_samples``.

    Results have one leading dim of size ``num_samples`` in front of the
    site's own shape and nothing else (a scalar site gives
    ``(num_samples,)``). With ``parallel=True`` all samples run in one
    vectorized pass (see :mod:`inference.sample_map`); a model that cannot be
    vectorized runs in a loop after one :class:`~inference.sample_map.VectorizationWarning`.

    Args:
        model: the model; called with the arguments given to this object.
        guide: optional guide. An autoguide is sampled in one vectorized
            call of its ``sample_posterior``; any other guide is traced
            once per sample (vectorized like the model).
        posterior_samples: optional dict of site name to draws.
        num_samples: how many samples; required without
            ``posterior_samples``, and must match their leading dim with them.
        return_sites: names of the sites to return (``deterministic`` sites
            and ``"_RETURN"`` included); by default every sample site except
            ``factor`` sites.
        parallel: vectorize over samples (the default) or loop in Python.

    Raises:
        ValueError: for inconsistent sample counts, or ``return_sites``
            naming no site of the model.

    Example:
        >>> import ppl, torch
        >>> from distributions import Normal
        >>> def model(n):
        ...     mu = ppl.sample("mu", Normal(0.0, 1.0))
        ...     with ppl.plate("data", n):
        ...         return ppl.sample("y", Normal(mu, 1.0), obs=torch.zeros(n))
        >>> samples = Predictive(model, num_samples=100)(3)
        >>> samples["mu"].shape, samples["y"].shape
        (torch.Size([100]), torch.Size([100, 3]))
        >>> bool(samples["y"].std() > 0)  # observed sites are drawn afresh
        True
    """

    def __init__(
        self,
        model: Callable[..., Any],
        guide: Callable[..., Any] | None = None,
        posterior_samples: Mapping[str, torch.Tensor] | None = None,
        num_samples: int | None = None,
        return_sites: Iterable[str] | None = None,
        parallel: bool = True,
    ) -> None:
        self.model = model
        self.guide = guide
        self.posterior_samples = dict(posterior_samples or {})
        self.num_samples = _num_samples(self.posterior_samples, num_samples)
        self.return_sites = None if return_sites is None else list(return_sites)
        self._map = SampleMap("Predictive", parallel=parallel)

    @property
    def parallel(self) -> bool:
        """Whether the next call vectorizes (``False`` after a failed attempt)."""
        return self._map.parallel

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
        """Runs the model ``num_samples`` times; returns site name to ``(num_samples, ...)``."""
        with torch.no_grad():
            batched = self._latent_draws(args, kwargs)
            return self._map(self._one_run(args, kwargs), self.num_samples, batched)

    get_samples = __call__
    forward = __call__

    def _latent_draws(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> dict[str, torch.Tensor]:
        draws = {}
        if self.guide is not None and hasattr(self.guide, "sample_posterior"):
            draws.update(self.guide.sample_posterior(self.num_samples, *args, **kwargs))
        draws.update(self.posterior_samples)
        return draws

    def _one_run(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Callable[..., Any]:
        traced_guide = self.guide is not None and not hasattr(self.guide, "sample_posterior")

        def run(index: int, values: Any) -> dict[str, torch.Tensor]:
            if traced_guide:
                guide_trace = trace(self.guide).get_trace(*args, **kwargs)
                values = {**_latent_values(guide_trace), **values}
            tracer = trace(_fix_latents(self.model, values))
            model_trace = tracer.get_trace(*args, **kwargs)
            return self._select(model_trace)

        return run

    def _select(self, model_trace: Trace) -> dict[str, torch.Tensor]:
        nodes = model_trace.nodes
        if self.return_sites is None:
            return {
                name: site.value
                for name, site in nodes.items()
                if site.type == "sample" and not site.infer.get("is_auxiliary")
            }
        missing = [name for name in self.return_sites if name not in nodes]
        if missing:
            sites = [n for n, s in nodes.items() if s.type in ("sample", "return")]
            raise ValueError(
                f"Predictive: return_sites {missing} are not sites of the model; its sites "
                f"are {sites}"
            )
        return {name: nodes[name].value for name in self.return_sites}


def _latent_values(guide_trace: Trace) -> dict[str, torch.Tensor]:
    return {
        name: site.value
        for name, site in guide_trace.nodes.items()
        if site.type == "sample" and not site.is_observed
    }


def _num_samples(posterior_samples: Mapping[str, torch.Tensor], num_samples: int | None) -> int:
    sizes = {name: value.shape[0] for name, value in posterior_samples.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(
            f"Predictive: posterior_samples disagree on the number of samples (leading dim): "
            f"{sizes}; give every site the same number of draws"
        )
    if sizes:
        count = next(iter(sizes.values()))
        if num_samples is not None and num_samples != count:
            raise ValueError(
                f"Predictive: num_samples={num_samples} but posterior_samples hold {count} "
                f"draws per site; leave num_samples out or pass {count}"
            )
        return count
    if num_samples is None:
        raise ValueError(
            "Predictive: pass num_samples (how many draws to make) or posterior_samples"
        )
    if not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"Predictive: num_samples must be a positive int, got {num_samples!r}")
    return num_samples
