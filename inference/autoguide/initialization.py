"""Init strategies: where an autoguide starts each latent site.

An init strategy is a function ``init_fn(site) -> value`` taking a model's
sample site (a :class:`~ppl.runtime.Message`) and returning a value in the
site's support, shaped like a draw from ``site.fn``. Autoguides run the model
once under :class:`InitMessenger` to record these values (downstream sites
then see their parents at the initial values) and map them to unconstrained
space to initialize their locations.

Each strategy called with ``site=None`` returns itself with its keyword
arguments bound, so ``init_to_median(num_samples=31)`` and
``init_to_value(values={"x": 1.0})`` are strategies too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import torch

from distributions import biject_to
from distributions.distribution import ShapeLike
from ppl.runtime import Message, Messenger

__all__ = [
    "InitMessenger",
    "full_shape",
    "init_to_feasible",
    "init_to_mean",
    "init_to_median",
    "init_to_sample",
    "init_to_value",
]


def _draw(site: Message, sample_shape: ShapeLike = ()) -> torch.Tensor:
    with torch.no_grad():
        return site.fn.sample(torch.Size(sample_shape))


def init_to_feasible(site: Message | None = None) -> Any:
    """Starts at the image of zero under ``biject_to(support)``: a point surely inside.

    Example:
        >>> import ppl
        >>> from distributions import Normal
        >>> site = ppl.Message(type="sample", name="x", fn=Normal(3.0, 1.0))
        >>> init_to_feasible(site).item()
        0.0
    """
    if site is None:
        return init_to_feasible
    value = _draw(site)
    try:
        transform = biject_to(site.fn.support)
    except NotImplementedError:
        # A discrete or otherwise unmappable support: a draw is feasible too, and
        # the autoguide then names the site with its own message.
        return value
    return transform(torch.zeros_like(transform.inv(value)))


def init_to_median(site: Message | None = None, num_samples: int = 15) -> Any:
    """Starts at the elementwise median of ``num_samples`` draws from the prior.

    A robust default: defined for heavy-tailed priors (a Cauchy has no mean)
    and cheap. Falls back to :func:`init_to_feasible` when the prior cannot be
    sampled.

    Args:
        site: the sample site, or ``None`` to return the strategy with
            ``num_samples`` bound.
        num_samples: how many prior draws the median is taken over.

    Example:
        >>> import ppl, torch
        >>> from distributions import Normal
        >>> site = ppl.Message(type="sample", name="x", fn=Normal(torch.zeros(2), 1e-6))
        >>> init_to_median(site).abs().max().item() < 1e-5
        True
    """
    if site is None:
        return functools.partial(init_to_median, num_samples=num_samples)
    try:
        draws = _draw(site, (num_samples,))
    except (NotImplementedError, RuntimeError, ValueError):
        return init_to_feasible(site)
    if draws.is_floating_point():
        return draws.median(dim=0).values
    # Medians of integer draws need not be representable; use one draw.
    return draws[0]


def init_to_mean(site: Message | None = None) -> Any:
    """Starts at the prior mean, or the median where the mean is undefined or infinite.

    Example:
        >>> import ppl
        >>> from distributions import Normal
        >>> init_to_mean(ppl.Message(type="sample", name="x", fn=Normal(3.0, 1.0))).item()
        3.0
    """
    if site is None:
        return init_to_mean
    try:
        value = site.fn.mean.detach()
    except NotImplementedError:
        return init_to_median(site)
    if not bool(torch.isfinite(value).all()):
        return init_to_median(site)
    return value.expand(site.fn.batch_shape + site.fn.event_shape).clone()


def init_to_sample(site: Message | None = None) -> Any:
    """Starts at one random draw from the prior.

    Example:
        >>> import ppl
        >>> from distributions import Normal
        >>> init_to_sample(ppl.Message(type="sample", name="x", fn=Normal(0.0, 1.0))).shape
        torch.Size([])
    """
    if site is None:
        return init_to_sample
    return _draw(site)


def init_to_value(
    site: Message | None = None,
    values: Mapping[str, torch.Tensor] | None = None,
    fallback: Callable[[Message], torch.Tensor] = init_to_median,
) -> Any:
    """Starts the named sites at given values, the others with ``fallback``.

    Args:
        site: the sample site, or ``None`` to return the bound strategy.
        values: a dict of site name to constrained value.
        fallback: the strategy for sites not in ``values``.

    Example:
        >>> import ppl
        >>> from distributions import Normal
        >>> strategy = init_to_value(values={"x": 2.5})
        >>> strategy(ppl.Message(type="sample", name="x", fn=Normal(0.0, 1.0))).item()
        2.5
    """
    values = {} if values is None else values
    if site is None:
        return functools.partial(init_to_value, values=values, fallback=fallback)
    if site.name not in values:
        return fallback(site)
    value = torch.as_tensor(values[site.name], dtype=_dtype_of(site))
    shape = site.fn.batch_shape + site.fn.event_shape
    # Inside a subsampled plate the value may cover the full plate.
    for target in (shape, full_shape(site)):
        try:
            return value.expand(target).clone()
        except RuntimeError:
            continue
    raise ValueError(
        f"init_to_value: the value for site '{site.name}' has shape {tuple(value.shape)}, "
        f"which does not broadcast to the site's shape {tuple(shape)} (batch + event)"
    )


def full_shape(site: Message) -> torch.Size:
    """The shape of a site's value with every subsampled plate at its full size.

    Example:
        >>> import ppl
        >>> from distributions import Normal
        >>> frame = ppl.CondIndepStackFrame("data", -1, 10, 3)
        >>> site = ppl.Message(type="sample", name="z", fn=Normal(torch.zeros(3), 1.0),
        ...                    cond_indep_stack=(frame,))
        >>> full_shape(site)
        torch.Size([10])
    """
    shape = list(site.fn.batch_shape + site.fn.event_shape)
    event_dim = len(site.fn.event_shape)
    for frame in site.cond_indep_stack:
        if frame.vectorized and frame.subsample_size != frame.size:
            shape[frame.dim - event_dim] = frame.size
    return torch.Size(shape)


def _dtype_of(site: Message) -> torch.dtype:
    for name in ("loc", "probs", "logits", "concentration", "rate", "low"):
        param = getattr(site.fn, name, None)
        if isinstance(param, torch.Tensor) and param.is_floating_point():
            return param.dtype
    return torch.get_default_dtype()


class InitMessenger(Messenger):
    """Sets every latent sample site to the value an init strategy gives.

    Observed sites and sites that already have a value are left alone. A
    value covering a subsampled plate in full is kept in ``full_values``
    and the site takes the subsample's slice of it.

    Args:
        fn: the model.
        init_fn: the strategy, ``init_fn(site) -> value``.

    Example:
        >>> import ppl
        >>> from distributions import Normal
        >>> def model():
        ...     return ppl.sample("x", Normal(3.0, 1.0))
        >>> InitMessenger(model, init_fn=init_to_mean)().item()
        3.0
    """

    def __init__(
        self,
        fn: Callable[..., Any] | None = None,
        init_fn: Callable[[Message], torch.Tensor] = init_to_median,
    ) -> None:
        super().__init__(fn)
        self.init_fn = init_fn
        self.full_values: dict[str, torch.Tensor] = {}
        self._indices: dict[str, Any] = {}

    def _postprocess_plate(self, msg: Message) -> None:
        self._indices[msg.name] = msg.value

    def _process_sample(self, msg: Message) -> None:
        if msg.is_observed or msg.value is not None or msg.done:
            return
        value = self.init_fn(msg)
        if value.shape != msg.fn.batch_shape + msg.fn.event_shape:
            self.full_values[msg.name] = value
            value = self._subsample(msg, value)
        msg.value = value
        msg.done = True

    def _subsample(self, msg: Message, value: Any) -> torch.Tensor:
        event_dim = len(msg.fn.event_shape)
        for frame in msg.cond_indep_stack:
            if frame.vectorized and frame.subsample_size != frame.size:
                indices = self._indices[frame.name]
                value = value.index_select(frame.dim - event_dim, indices.to(value.device))
        return value
