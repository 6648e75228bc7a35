"""``AutoGuideList``: one guide made of parts, each owning some of the model's latent sites.

An autoguide covers continuous latents only; a discrete local latent, or a
site that needs a structured family, gets a guide written by hand. Pyro's
``AutoGuideList`` composes such parts: each autoguide part is built on the
model with the other parts' sites hidden (``handlers.block``), a hand-written
part is any callable taking the model's arguments. Calling the list calls
every part and returns the union of the latents they sampled; ``median``,
``quantiles`` and ``sample_posterior`` are the union over the parts that
support them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import torch

from inference.autoguide.guide import AutoGuide, detached_copies
from ppl import Messenger, handlers, plate
from ppl.runtime import Message
from ppl.trace_struct import Trace

__all__ = ["AutoGuideList", "AutoCallable"]


class _SharedPlates(Messenger):
    # Within one call of the list every part sees the same subsample indices
    # for a plate name (a trace does this too; outside one it would not).

    def __init__(self) -> None:
        super().__init__()
        self.indices: dict[str, torch.Tensor] = {}

    def _process_plate(self, msg: Message) -> None:
        if msg.value is None and msg.name in self.indices:
            msg.value = self.indices[msg.name]

    def _postprocess_plate(self, msg: Message) -> None:
        self.indices.setdefault(msg.name, msg.value)


class AutoCallable(AutoGuide):
    """A hand-written guide as a part of an :class:`AutoGuideList`.

    :meth:`AutoGuideList.append` wraps plain callables in this class; build it
    yourself to give the part a ``median``.

    Args:
        model: the model (kept for reference; the guide need not look at it).
        guide: a guide over some of the model's latent sites, called with the
            model's arguments.
        median: optional ``median(*args, **kwargs) -> dict`` of site name to
            posterior median; without it the part contributes no medians.

    Example:
        >>> import ppl, torch
        >>> from distributions import Normal
        >>> def guide():
        ...     ppl.sample("x", Normal(ppl.param("x_loc", torch.tensor(1.0)), 0.1))
        >>> part = AutoCallable(None, guide, median=lambda: {"x": ppl.param("x_loc")})
        >>> sorted(part()), part.sample_posterior(5)["x"].shape, part.median()["x"].item()
        (['x'], torch.Size([5]), 1.0)
    """

    def __init__(
        self,
        model: Callable[..., Any],
        guide: Callable[..., Any],
        median: Callable[..., Any] | None = None,
    ) -> None:
        if not callable(guide):
            raise TypeError(f"AutoCallable: expected a callable guide, got {type(guide).__name__}")
        super().__init__(model)
        self.guide = guide
        self._median = median

    def prepare(self, *args: Any, **kwargs: Any) -> AutoCallable:
        """Nothing to learn from the model: a hand guide knows its sites. Returns ``self``."""
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Runs the guide; returns the latent values it sampled, by site name."""
        return self._sample_sites({}, args, kwargs)

    def _sample_sites(
        self, plates: dict[str, plate], args: Any = (), kwargs: Any = None
    ) -> dict[str, torch.Tensor]:
        # The guide makes its own plates; a trace collects what it sampled.
        with handlers.trace() as tracer:
            self.guide(*args, **(kwargs or {}))
        return _latents(tracer.trace)

    def median(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
        """The ``median`` callable's result (detached copies), or ``{}`` without one."""
        if self._median is None:
            return {}
        with torch.no_grad():
            return detached_copies(self._median(*args, **kwargs))

    def quantiles(
        self, quantiles: Sequence[float] | torch.Tensor, *args: Any, **kwargs: Any
    ) -> dict[str, torch.Tensor]:
        """A hand guide has no known quantiles: ``{}``."""
        return {}

    def sample_posterior(
        self, num_samples: int, *args: Any, **kwargs: Any
    ) -> dict[str, torch.Tensor]:
        """Runs the guide ``num_samples`` times (hidden from outer handlers) and stacks its latents.

        Raises:
            ValueError: when a site's shape changes between runs.
        """
        runs = []
        with torch.no_grad():
            for _ in range(num_samples):
                tracer = handlers.trace(self.guide)
                handlers.block(tracer.get_trace)(*args, **kwargs)
                runs.append(_latents(tracer.trace))
        out = {}
        for name in runs[0]:
            shapes = {tuple(run[name].shape) for run in runs if name in run}
            if len(shapes) != 1 or any(name not in run for run in runs):
                raise ValueError(
                    f"AutoCallable.sample_posterior: site '{name}' of the hand guide has shapes "
                    f"{sorted(shapes)} (or is missing) across runs; draws can be stacked only "
                    "when every run samples it with one shape (fix the subsample indices)"
                )
            out[name] = torch.stack([run[name] for run in runs])
        return detached_copies(out)


def _latents(trace: Trace) -> dict[str, torch.Tensor]:
    return {
        name: site.value
        for name, site in trace.nodes.items()
        if site.type == "sample" and not site.is_observed and not site.infer.get("is_auxiliary")
    }


class AutoGuideList(AutoGuide):
    """A guide made of parts (autoguides and hand-written guides), each owning some sites.

    Build each autoguide part on the model with the sites of the other parts
    hidden, e.g. ``AutoNormal(handlers.block(model, hide=["z"]))``, and append
    a hand-written guide for those sites. No two parts may sample one site.

    Args:
        model: the model.
        create_plates: optional ``create_plates(*args, **kwargs)`` returning a
            plate or a list of plates entered once per call; every part then
            uses their subsample indices.

    Raises:
        ValueError: on the first call, when two autoguide parts claim one site.

    Example:
        >>> import ppl, torch
        >>> from distributions import Bernoulli, Normal, constraints
        >>> from inference.autoguide import AutoNormal
        >>> def model():
        ...     mu = ppl.sample("mu", Normal(0.0, 1.0))
        ...     z = ppl.sample("z", Bernoulli(0.5))
        ...     ppl.sample("x", Normal(mu + z, 1.0), obs=torch.tensor(1.0))
        >>> def z_guide():
        ...     p = ppl.param("p", torch.tensor(0.5), constraint=constraints.unit_interval)
        ...     ppl.sample("z", Bernoulli(p))
        >>> guide = AutoGuideList(model)
        >>> guide.append(AutoNormal(ppl.handlers.block(model, hide=["z"])))
        >>> guide.append(z_guide)
        >>> sorted(guide()), sorted(guide.median())
        (['mu', 'z'], ['mu'])
    """

    def __init__(
        self, model: Callable[..., Any], *, create_plates: Callable[..., Any] | None = None
    ) -> None:
        super().__init__(model, create_plates=create_plates)
        self.parts: list[AutoGuide] = []
        self._prepared = False

    def append(self, part: Any) -> None:
        """Adds an autoguide, or a callable guide (wrapped in :class:`AutoCallable`).

        Raises:
            ValueError: when ``part`` is already in the list.
        """
        if not isinstance(part, AutoGuide):
            part = AutoCallable(self.model, part)
        if any(p is part for p in self.parts):
            raise ValueError(f"AutoGuideList: this {type(part).__name__} part is already added")
        self.parts.append(part)
        self._prepared = False

    def __len__(self) -> int:
        return len(self.parts)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.parts)

    def __getitem__(self, index: int) -> Any:
        return self.parts[index]

    def prepare(self, *args: Any, **kwargs: Any) -> AutoGuideList:
        """Prepares every autoguide part and checks that no two claim one site. Returns ``self``."""
        if self._prepared:
            return self
        owners: dict[str, int] = {}
        for index, part in enumerate(self.parts):
            part.prepare(*args, **kwargs)
            for name in part.sites:
                if name in owners:
                    raise ValueError(
                        f"AutoGuideList: latent site '{name}' is claimed by part {owners[name]} "
                        f"and by part {index} ({type(part).__name__}); hide it from one of "
                        f"them with handlers.block(model, hide=['{name}'])"
                    )
                owners[name] = index
        self.sites = {name: site for part in self.parts for name, site in part.sites.items()}
        self._prepared = True
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Calls every part with the model's arguments; returns all sampled latents by name."""
        self.prepare(*args, **kwargs)
        with _SharedPlates():
            plates = self._create_plates(*args, **kwargs)
            return self._sample_sites(plates, args, kwargs)

    def _sample_sites(
        self, plates: dict[str, plate], args: Any = (), kwargs: Any = None
    ) -> dict[str, torch.Tensor]:
        # `plates` (from create_plates) were created under _SharedPlates, so
        # the parts' plates of the same names reuse their indices.
        result: dict[str, torch.Tensor] = {}
        for part in self.parts:
            result.update(part(*args, **(kwargs or {})))
        return result

    def median(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
        """The medians of every part that knows them (hand parts only with a ``median``)."""
        self.prepare(*args, **kwargs)
        return _union(part.median(*args, **kwargs) for part in self.parts)

    def quantiles(
        self, quantiles: Sequence[float] | torch.Tensor, *args: Any, **kwargs: Any
    ) -> dict[str, torch.Tensor]:
        """Quantiles from the autoguide parts (hand parts have none).

        Returns:
            A dict of site name to ``(len(quantiles), *site_shape)``.
        """
        self.prepare(*args, **kwargs)
        return _union(part.quantiles(quantiles, *args, **kwargs) for part in self.parts)

    def sample_posterior(
        self, num_samples: int, *args: Any, **kwargs: Any
    ) -> dict[str, torch.Tensor]:
        """Draws ``num_samples`` from every part (hand parts by running them): name to draws."""
        self.prepare(*args, **kwargs)
        return _union(part.sample_posterior(num_samples, *args, **kwargs) for part in self.parts)

    def __repr__(self) -> str:
        parts = ", ".join(repr(part) for part in self.parts)
        return f"AutoGuideList([{parts}])"


def _union(dicts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for d in dicts:
        result.update(d)
    return result
