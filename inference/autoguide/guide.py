"""``AutoGuide``: the base of guides built automatically from a model's trace.

On its first call an autoguide runs the model once (hidden from any outer
handler, latent sites set by an init strategy) and records, per latent site,
its shape, support, plates and initial value. Every latent site is then
treated in unconstrained space through ``biject_to(site.fn.support)``, the
transformation-to-the-reals of automatic differentiation variational
inference (Kucukelbir et al. 2017, "Automatic Differentiation Variational
Inference", JMLR 18). Subclasses choose the family of the guide.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from distributions import biject_to
from distributions.constraints import Constraint
from distributions.torch_constraints import as_constraint
from distributions.transforms import ComposeTransform, IndependentTransform, Transform
from inference.autoguide.initialization import InitMessenger, init_to_median
from ppl import get_stack, handlers, plate
from ppl.plate import CondIndepStackFrame
from ppl.runtime import Message
from ppl.trace_struct import Trace

__all__ = ["AutoGuide", "LatentSite", "detached_copies", "is_identity", "normal_icdf"]


def detached_copies(values: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Copies of a dict's tensors that neither require grad nor share the guide's memory.

    What ``median``/``quantiles``/``sample_posterior`` return: editing a result
    (or calling ``.backward()`` through it) must not reach the guide's
    parameters, which an identity bijection or a slice would otherwise alias.

    Example:
        >>> p = torch.zeros(2, requires_grad=True)
        >>> out = detached_copies({"x": p})["x"]
        >>> out.requires_grad, out.data_ptr() == p.data_ptr()
        (False, False)
    """
    return {name: value.detach().clone() for name, value in values.items()}


def is_identity(transform: Transform) -> bool:
    """Whether ``transform`` is the identity, possibly wrapped in ``IndependentTransform``.

    Example:
        >>> from distributions import biject_to, constraints
        >>> is_identity(biject_to(constraints.real)), is_identity(biject_to(constraints.positive))
        (True, False)
    """
    while isinstance(transform, IndependentTransform):
        transform = transform.base_transform
    return isinstance(transform, ComposeTransform) and not transform.parts


def normal_icdf(quantiles: Sequence[float] | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The standard normal's quantiles at ``quantiles``, as a 1-d tensor like ``like``.

    Raises:
        ValueError: when the levels are not a 1-d list strictly inside ``(0, 1)``.

    Example:
        >>> normal_icdf([0.5], torch.zeros(())).tolist()
        [0.0]
    """
    levels = torch.as_tensor(quantiles, dtype=like.dtype, device=like.device)
    if levels.dim() != 1 or not bool(((levels > 0) & (levels < 1)).all()):
        raise ValueError(
            f"quantiles must be a 1-d list of levels strictly between 0 and 1, got {quantiles!r}"
        )
    return torch.special.ndtri(levels)


@dataclass
class LatentSite:
    """What an autoguide knows about one latent site of the model.

    Attributes:
        name: the site name.
        shape: the shape of a value, with every plate at its full size.
        event_dim: the model distribution's number of event dims.
        support: the model distribution's support.
        transform: ``biject_to(support)``, unconstrained to constrained.
        unconstrained_shape: the shape of the unconstrained value (full plates).
        unconstrained_event_dim: the event dims of the unconstrained value.
        frames: the site's vectorized plates, outermost first.
        init: the initial unconstrained value (full plates).
    """

    name: str
    shape: torch.Size
    event_dim: int
    support: Constraint
    transform: Transform
    unconstrained_shape: torch.Size
    unconstrained_event_dim: int
    frames: tuple
    init: torch.Tensor

    @property
    def batch_shape(self) -> torch.Size:
        """The value's batch shape (plates at full size)."""
        return self.shape[: len(self.shape) - self.event_dim]


class AutoGuide(abc.ABC):
    """Base class of automatic guides: prototype trace, latent sites, plates.

    Calling the guide with the model's arguments samples every latent site of
    the model and returns a dict of site name to (constrained) value.
    Subclasses implement :meth:`_sample_sites` (the guide itself),
    :meth:`median`, :meth:`quantiles` and :meth:`sample_posterior`.

    Args:
        model: the model to approximate the posterior of.
        init_loc_fn: an init strategy (see
            :mod:`inference.autoguide.initialization`).
        create_plates: optional ``create_plates(*args, **kwargs)`` returning a
            plate or a list of plates to use instead of the guide's own (to
            pass subsample indices, say).
        prefix: the prefix of the guide's parameter names (the class name by
            default).

    Raises:
        ValueError: on the first call, when a latent site is discrete, has a
            support without a bijection to the reals, or an initial value
            outside its support.
    """

    def __init__(
        self,
        model: Callable[..., Any],
        *,
        init_loc_fn: Callable[[Message], torch.Tensor] = init_to_median,
        create_plates: Callable[..., Any] | None = None,
        prefix: str | None = None,
    ) -> None:
        self.model = model
        self.init_loc_fn = init_loc_fn
        self.create_plates = create_plates
        self.prefix = type(self).__name__ if prefix is None else prefix
        self.prototype_trace: Trace | None = None
        self.sites: dict[str, LatentSite] = {}
        self._frames: dict[str, CondIndepStackFrame] = {}

    # ---------------------------------------------------------- prototype
    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        init = InitMessenger(self.model, init_fn=self.init_loc_fn)
        tracer = handlers.trace(init)
        with torch.no_grad():
            handlers.block(tracer.get_trace)(*args, **kwargs)
        self.prototype_trace = tracer.trace
        self.sites = {}
        self._frames = {}
        for name, site in self.prototype_trace.iter_stochastic_nodes():
            if site.infer.get("is_auxiliary"):
                continue
            frames = tuple(f for f in site.cond_indep_stack if f.vectorized)
            for frame in frames:
                self._frames[frame.name] = frame
            self.sites[name] = self._latent_site(name, site, frames, init.full_values.get(name))

    def prepare(self, *args: Any, **kwargs: Any) -> AutoGuide:
        """Runs the model once to learn its latent sites, unless done already.

        Calling the guide does this on first use; call it directly to set the
        guide up without drawing from it (before ``torch.vmap``, which cannot
        run the set-up's checks).

        Returns:
            ``self``.
        """
        if self.prototype_trace is None:
            self._setup_prototype(*args, **kwargs)
        return self

    def _latent_site(
        self, name: str, site: Message, frames: Any, full_value: torch.Tensor | None = None
    ) -> LatentSite:
        fn = site.fn
        support = as_constraint(fn.support, name=f"support of latent site '{name}'")
        if support.is_discrete:
            raise ValueError(
                f"{type(self).__name__}: latent site '{name}' is discrete ({type(fn).__name__} "
                f"with support {support}); autoguides cover continuous latents only. "
                f"Marginalize it out of the model, observe it, or hide it from the autoguide "
                f"with handlers.block(model, hide=['{name}']) and write its guide by hand"
            )
        try:
            transform = biject_to(support)
        except NotImplementedError as e:
            raise ValueError(
                f"{type(self).__name__}: latent site '{name}' has support {support}, which has "
                f"no bijection to the reals: {e}"
            ) from None
        event_dim = len(fn.event_shape)
        value = site.value.detach() if full_value is None else full_value
        with torch.no_grad():
            unconstrained = transform.inv(value)
        if not bool(torch.isfinite(unconstrained).all()):
            raise ValueError(
                f"{type(self).__name__}: the initial value of latent site '{name}' lies on or "
                f"outside the boundary of its support {support}; start it inside, e.g. with "
                f"init_loc_fn=init_to_value(values={{'{name}': ...}})"
            )
        unconstrained_event_dim = (
            event_dim - transform.codomain.event_dim + transform.domain.event_dim
        )
        if full_value is None:
            unconstrained = self._full_size(unconstrained, frames, unconstrained_event_dim)
            value = self._full_size(value, frames, event_dim)
        return LatentSite(
            name=name,
            shape=value.shape,
            event_dim=event_dim,
            support=support,
            transform=transform,
            unconstrained_shape=unconstrained.shape,
            unconstrained_event_dim=unconstrained_event_dim,
            frames=frames,
            init=unconstrained,
        )

    @staticmethod
    def _full_size(value: torch.Tensor, frames: Any, event_dim: int) -> torch.Tensor:
        # A subsampled plate saw only `subsample_size` elements; parameters
        # span the full plate, so tile the prototype's values periodically.
        for frame in frames:
            if frame.subsample_size == frame.size:
                continue
            dim = frame.dim - event_dim
            repeats = [1] * value.dim()
            repeats[dim] = -(-frame.size // frame.subsample_size)
            value = value.repeat(repeats).narrow(dim, 0, frame.size)
        return value

    # ------------------------------------------------------------- plates
    def _create_plates(self, *args: Any, **kwargs: Any) -> dict[str, plate]:
        plates = {}
        if self.create_plates is not None:
            user = self.create_plates(*args, **kwargs)
            for p in user if isinstance(user, (list, tuple)) else [user]:
                plates[p.name] = p
        for name, frame in self._frames.items():
            if name not in plates:
                plates[name] = plate(name, frame.size, frame.subsample_size, dim=frame.dim)
        return plates

    def _outer_batch_shape(self) -> torch.Size:
        """The batch shape of vectorized plates entered around the guide (not the model's).

        An ELBO with vectorized particles runs the guide inside a plate of its
        own, left of the model's plates: a size-``P`` plate at dim ``-3`` gives
        ``(P, 1, 1)``; with none, ``()``.
        """
        sizes: dict[Any, int] = {}
        for handler in get_stack():
            if isinstance(handler, plate) and handler.name not in self._frames:
                sizes[handler.frame.dim] = handler.subsample_size
        if not sizes:
            return torch.Size()
        shape = [1] * -min(sizes)
        for dim, size in sizes.items():
            shape[dim] = size
        return torch.Size(shape)

    @staticmethod
    def _in_plates(site: LatentSite, plates: dict[str, plate]) -> contextlib.ExitStack:
        """A context entering the plates of ``site``, outermost first."""
        stack = contextlib.ExitStack()
        for frame in site.frames:
            stack.enter_context(plates[frame.name])
        return stack

    # ----------------------------------------------------------- calling
    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
        """Samples every latent site of the model; returns site name to value."""
        self.prepare(*args, **kwargs)
        plates = self._create_plates(*args, **kwargs)
        return self._sample_sites(plates)

    @abc.abstractmethod
    def _sample_sites(self, plates: dict[str, plate]) -> dict[str, torch.Tensor]:
        """Samples the latent sites inside their ``plates``; returns name to value."""

    @abc.abstractmethod
    def median(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
        """The posterior median of each latent site (constrained), as a dict.

        Implementations return :func:`detached_copies`, as for the two below.
        """

    @abc.abstractmethod
    def quantiles(
        self, quantiles: Sequence[float] | torch.Tensor, *args: Any, **kwargs: Any
    ) -> dict[str, torch.Tensor]:
        """Posterior quantiles of each latent site: dict of name to ``(len(quantiles), *shape)``."""

    @abc.abstractmethod
    def sample_posterior(
        self, num_samples: int, *args: Any, **kwargs: Any
    ) -> dict[str, torch.Tensor]:
        """Draws ``num_samples`` from the guide, vectorized: name to ``(num_samples, *shape)``."""

    def _param_name(self, kind: str, site_name: str | None = None) -> str:
        if site_name is None:
            return f"{self.prefix}.{kind}"
        return f"{self.prefix}.{kind}.{site_name}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({getattr(self.model, '__name__', self.model)!r})"
