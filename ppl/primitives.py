"""The modelling primitives: ``sample``, ``observe``, ``param``, ``factor``, ...

Each primitive builds a :class:`~ppl.runtime.Message` and runs it through
:func:`~ppl.runtime.apply_stack`, except when no handler is active: then it
does the plain thing directly (draw, return the data, read the store), which
keeps models cheap to run outside inference.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from distributions import Delta, Unit, constraints
from distributions.validation import mark_valid
from ppl.param_store import get_param_store
from ppl.runtime import _ENTERED, Message, _current_stack, apply_stack, draw
from ppl.validation import is_validation_enabled

__all__ = ["sample", "observe", "param", "factor", "deterministic", "module"]


def sample(
    name: str,
    fn: Any,
    obs: Any = None,
    *,
    obs_mask: Any = None,
    infer: dict[str, Any] | None = None,
    sample_shape: tuple[int, ...] | torch.Size = (),
) -> Any:
    """Draws a value of the random variable ``name`` from ``fn`` (or observes ``obs``).

    With ``obs_mask``, the site is observed only where the mask is ``True``
    and latent elsewhere, as in Pyro: it becomes an observed site
    ``f"{name}_observed"`` (``obs``, masked by ``obs_mask``), a latent site
    ``f"{name}_unobserved"`` (a full-shape draw, masked by ``~obs_mask``) that
    a guide samples to impute the missing entries, and a deterministic site
    ``name`` holding the two merged.

    Outside any handler an observed site cannot be scored, so ``sample`` then
    warns (a ``RuntimeWarning``, as Pyro does) and returns ``obs``.

    Args:
        name: the site name, unique within one model run.
        fn: the distribution.
        obs: observed data; the site then returns ``obs`` and is scored, not sampled.
        obs_mask: a bool tensor broadcastable to the site's batch shape:
            ``True`` where ``obs`` is observed. Entries of ``obs`` where it
            is ``False`` are ignored but must still be valid values (not NaN).
        infer: inference hints, passed through untouched (e.g.
            ``{"enumerate": "parallel"}``).
        sample_shape: extra leading dims of i.i.d. draws.

    Returns:
        The value, a reparameterized draw when ``fn.has_rsample``, ``obs`` when
        given; with ``obs_mask``, ``obs`` where observed and the draw elsewhere.

    Raises:
        ValueError: when ``obs_mask`` comes without ``obs`` or its shape does
            not broadcast to the batch shape.
        TypeError: when ``obs_mask`` is not a bool tensor.

    Example:
        >>> import torch
        >>> from distributions import Normal
        >>> sample("x", Normal(0.0, 1.0), sample_shape=(3,)).shape
        torch.Size([3])
        >>> mask = torch.tensor([True, False])
        >>> y = sample("y", Normal(torch.zeros(2), 1.0), obs=torch.ones(2), obs_mask=mask)
        >>> y[0].item()
        1.0
    """
    if obs_mask is not None:
        return _masked_sample(name, fn, obs, obs_mask, infer, sample_shape)
    if not (_ENTERED and _current_stack()):
        # Fast path: no handler can observe this site.
        if obs is not None:
            warnings.warn(
                f"trying to observe a value outside of inference at {name}: no handler is "
                "active, so the value is returned unscored (run the model under an "
                "inference algorithm or a handler such as ppl.handlers.trace)",
                RuntimeWarning,
                stacklevel=2,
            )
            return obs
        if fn.has_rsample:
            return fn.rsample(sample_shape)
        return fn.sample(sample_shape)
    return _sample_message(name, fn, obs, infer, sample_shape)


def _sample_message(
    name: str,
    fn: Any,
    obs: Any,
    infer: dict[str, Any] | None,
    sample_shape: tuple[int, ...] | torch.Size,
    mask: Any = None,
) -> Any:
    msg = Message(
        type="sample",
        name=name,
        fn=fn,
        kwargs={"sample_shape": sample_shape},
        value=obs,
        is_observed=obs is not None,
        infer={} if infer is None else dict(infer),
        mask=mask,
    )
    apply_stack(msg)
    return msg.value


def _masked_sample(
    name: str,
    fn: Any,
    obs: Any,
    obs_mask: Any,
    infer: dict[str, Any] | None,
    sample_shape: tuple[int, ...] | torch.Size,
) -> Any:
    # Pyro's split of a partially observed site (see `sample`), so guides
    # written for Pyro name the imputed part the same way.
    obs_mask = _check_obs_mask(name, obs, obs_mask)
    if not (_ENTERED and _current_stack()):
        observed, unobserved = obs, draw(fn, sample_shape)
    else:
        observed = _sample_message(f"{name}_observed", fn, obs, infer, sample_shape, obs_mask)
        unobserved = _sample_message(f"{name}_unobserved", fn, None, infer, sample_shape, ~obs_mask)
    event_dim = len(fn.event_shape)
    try:
        value = torch.where(
            obs_mask.reshape(obs_mask.shape + (1,) * event_dim), observed, unobserved
        )
    except RuntimeError:
        shape = unobserved.shape
        raise ValueError(
            f"sample site '{name}': obs_mask of shape {tuple(obs_mask.shape)} does not broadcast "
            f"to the batch shape {tuple(shape[: len(shape) - event_dim])} of the site (its "
            f"value has shape {tuple(shape)}, event dims {event_dim}); give the mask the "
            "batch shape, without event dims"
        ) from None
    return deterministic(name, value, event_dim=event_dim)


def _check_obs_mask(name: str, obs: Any, obs_mask: Any) -> torch.Tensor:
    if obs is None:
        raise ValueError(
            f"sample site '{name}': obs_mask needs obs (the data, with any valid filler "
            "value where the mask is False)"
        )
    if isinstance(obs_mask, bool):
        return torch.tensor(obs_mask)
    if not isinstance(obs_mask, torch.Tensor) or obs_mask.dtype != torch.bool:
        described = obs_mask.dtype if isinstance(obs_mask, torch.Tensor) else type(obs_mask)
        raise TypeError(
            f"sample site '{name}': obs_mask must be a bool tensor (True where observed), "
            f"got {described}; convert it with mask.bool() or a comparison such as "
            "~torch.isnan(data)"
        )
    return obs_mask


def observe(name: str, fn: Any, value: Any) -> Any:
    """Scores ``value`` under ``fn`` as data: ``sample(name, fn, obs=value)``.

    Example:
        >>> import torch
        >>> from distributions import Normal
        >>> import ppl
        >>> ppl.handlers.trace(observe)("y", Normal(0.0, 1.0), torch.tensor(0.5)).item()
        0.5
    """
    if value is None:
        raise ValueError(f"observe site '{name}': value is None; pass the observed data")
    return sample(name, fn, obs=value)


def param(
    name: str,
    init_value: Any = None,
    *,
    constraint: Any = constraints.real,
    event_dim: int | None = None,
) -> torch.Tensor:
    """Reads (creating on first use) the learnable parameter ``name``.

    The store keeps an unconstrained tensor and returns its image under
    ``transform_to(constraint)``. Inside a subsampled plate, a parameter with
    ``event_dim`` is indexed along the plate's dim.

    Args:
        name: the parameter name.
        init_value: the initial (constrained) value, or a function returning
            it; optional once the parameter exists.
        constraint: the set the value lives in.
        event_dim: how many rightmost dims are not plate dims.

    Returns:
        The constrained value (differentiable in the stored tensor).

    Example:
        >>> import torch
        >>> from distributions import constraints
        >>> param("sigma", torch.tensor(2.0), constraint=constraints.positive).item()
        2.0
        >>> param("sigma").item()
        2.0
    """
    if not (_ENTERED and _current_stack()):
        return _read_param(name, init_value, constraint, event_dim)
    msg = Message(
        type="param",
        name=name,
        fn=_read_param,
        args=(name, init_value),
        kwargs={"constraint": constraint, "event_dim": event_dim},
    )
    apply_stack(msg)
    return msg.value


def _read_param(
    name: str,
    init_value: Any = None,
    constraint: Any = constraints.real,
    event_dim: int | None = None,
) -> torch.Tensor:
    # The store's value is the image of transform_to(its constraint): with
    # validation on it is recorded as satisfying it, so a distribution taking
    # it as an argument with that constraint does not check it again.
    store = get_param_store()
    value = store.get_param(name, init_value, constraint, event_dim)
    # A 0-dim CPU value is read directly by the argument check (cheaper than
    # the record): recording it would only cost.
    if is_validation_enabled() and (value.dim() or not value.is_cpu):
        # A computed image (exp of the stored tensor) is new each evaluation.
        mark_valid(value, store.get_constraint(name), transient=not value.is_leaf)
    return value


def factor(name: str, log_factor: Any, *, has_rsample: bool | None = None) -> None:
    """Adds ``log_factor`` to the model's log-density (a soft constraint or a potential).

    Recorded as an observed sample site of a :class:`~distributions.Unit`
    distribution, with ``infer["is_auxiliary"] = True``.

    Args:
        name: the site name.
        log_factor: a tensor (its shape is the batch shape) or a number.
        has_rsample: whether the factor is differentiable in a reparameterized
            way (for guides); ``None`` leaves ``Unit``'s default.

    Example:
        >>> import torch, ppl
        >>> tr = ppl.handlers.trace(lambda: factor("f", torch.tensor(-2.0))).get_trace()
        >>> tr.log_prob_sum().item()
        -2.0
    """
    if not (_ENTERED and _current_stack()):
        return None
    unit = Unit(log_factor, has_rsample=has_rsample)
    sample(name, unit, obs=unit.sample(), infer={"is_auxiliary": True})
    return None


def deterministic(name: str, value: torch.Tensor, event_dim: int | None = None) -> Any:
    """Records a value computed from other sites, so traces and predictions show it.

    The site is observed with a fully masked :class:`~distributions.Delta`:
    it never contributes log-probability.

    Args:
        name: the site name.
        value: the tensor to record.
        event_dim: how many rightmost dims form one value (all by default).

    Returns:
        ``value``.

    Example:
        >>> import torch, ppl
        >>> tr = ppl.handlers.trace(lambda: deterministic("d", torch.ones(2))).get_trace()
        >>> tr.nodes["d"]["value"].tolist(), tr.log_prob_sum().item()
        ([1.0, 1.0], 0.0)
    """
    if not (_ENTERED and _current_stack()):
        return value
    event_dim = value.dim() if event_dim is None else event_dim
    msg = Message(
        type="sample",
        name=name,
        fn=Delta(value, event_dim=event_dim),
        kwargs={"sample_shape": ()},
        value=value,
        is_observed=True,
        infer={"_deterministic": True},
        mask=False,
    )
    apply_stack(msg)
    return msg.value


def module(
    name: str, nn_module: torch.nn.Module, update_module_params: bool = False
) -> torch.nn.Module:
    """Registers the parameters of a ``torch.nn.Module`` in the parameter store.

    Each parameter is stored as ``"{name}$$${param_name}"`` (Pyro's naming)
    and shared with the module, so an optimizer over the store trains it.
    When the store already holds a value for a parameter (after ``load``,
    say), that value is copied into the module if ``update_module_params``.

    Args:
        name: the module's name in the store.
        nn_module: the module.
        update_module_params: copy stored values into the module.

    Returns:
        The module.

    Example:
        >>> import torch
        >>> from ppl import get_param_store
        >>> _ = module("lin", torch.nn.Linear(2, 1))
        >>> sorted(k for k in get_param_store().keys() if k.startswith("lin"))
        ['lin$$$bias', 'lin$$$weight']
    """
    if not isinstance(nn_module, torch.nn.Module):
        raise TypeError(
            f"module '{name}': expected a torch.nn.Module, got {type(nn_module).__name__}"
        )
    store = get_param_store()
    for param_name, tensor in nn_module.named_parameters():
        full_name = f"{name}$$${param_name}"
        if full_name in store and update_module_params:
            with torch.no_grad():
                tensor.copy_(store[full_name])
        if full_name in store and store.get_unconstrained(full_name) is not tensor:
            del store[full_name]
        param(full_name, tensor)
    return nn_module
