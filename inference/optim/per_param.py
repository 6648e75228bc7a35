"""Per-parameter settings of the optimizers: ``optim_args`` and ``clip_args``.

Both arguments come the way Pyro's ``pyro.optim`` takes them: a dict used for
every parameter, or a callable returning one per parameter. A one-argument
callable receives the parameter's name (a module's ``"lin$$$weight"`` written
``"lin.weight"``); a two-argument callable receives ``(module_name,
param_name)``, the store name split at ``"$$$"``.

Gradient clipping follows Pyro's: each parameter's gradient is clipped on its
own (``clip_norm`` bounds its Euclidean norm, ``clip_value`` each element),
never the norm of all gradients together.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch

__all__ = ["CLIP_KEYS", "check_args_spec", "args_for", "check_clip_args", "clip_gradients"]

# The keys of clip_args, in the order they are applied (as Pyro does).
CLIP_KEYS = ("clip_norm", "clip_value")

_MODULE_DIVIDER = "$$$"


def check_args_spec(spec: Any, what: str) -> Any:
    """Checks that ``spec`` is a dict or a callable returning one; returns a dict for ``None``.

    Args:
        spec: ``optim_args`` or ``clip_args`` as given.
        what: its argument name, for the error message.

    Raises:
        TypeError: for anything else.

    Example:
        >>> check_args_spec(None, "clip_args")
        {}
    """
    if spec is None:
        return {}
    if isinstance(spec, dict) or callable(spec):
        return spec
    raise TypeError(
        f"{what}: expected a dict (e.g. {{'lr': 0.01}}) or a callable param_name -> dict, "
        f"got {type(spec).__name__}"
    )


def _arity(fn: Callable[..., Any]) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 1
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    return 2 if len(required) >= 2 else 1


def args_for(spec: Any, name: str, what: str) -> dict[str, Any]:
    """The settings ``spec`` gives the parameter ``name`` (a copy of the dict).

    Args:
        spec: a dict, or a callable of ``(param_name)`` or ``(module_name, param_name)``.
        name: the parameter's name in the store.
        what: ``"optim_args"`` or ``"clip_args"``, for the error message.

    Raises:
        TypeError: when the callable does not return a dict.

    Example:
        >>> args_for(lambda name: {"lr": 0.1 if name == "lin.bias" else 0.01},
        ...          "lin$$$bias", "optim_args")
        {'lr': 0.1}
        >>> args_for(lambda module, param: {"lr": len(param)}, "lin$$$bias", "optim_args")
        {'lr': 4}
    """
    if not callable(spec):
        return dict(spec)
    if _arity(spec) == 2:
        module, _, param = name.rpartition(_MODULE_DIVIDER)
        out = spec(module or name, param)
    else:
        out = spec(name.replace(_MODULE_DIVIDER, "."))
    if not isinstance(out, dict):
        raise TypeError(
            f"{what} callable returned {type(out).__name__} for parameter '{name}'; "
            "it must return a dict of settings, e.g. {'lr': 0.01}"
        )
    return dict(out)


def check_clip_args(clip_args: Any, name: str | None = None) -> dict[str, Any]:
    """Checks the keys and values of one ``clip_args`` dict.

    Args:
        clip_args: ``{"clip_norm": c}`` and/or ``{"clip_value": v}``.
        name: the parameter these apply to, when given per parameter.

    Returns:
        ``clip_args`` without ``None`` entries.

    Raises:
        ValueError: on an unknown key or a value that is not a positive number.

    Example:
        >>> check_clip_args({"clip_value": 0.1, "clip_norm": None})
        {'clip_value': 0.1}
    """
    where = "clip_args" if name is None else f"clip_args for parameter '{name}'"
    unknown = sorted(set(clip_args) - set(CLIP_KEYS))
    if unknown:
        raise ValueError(
            f"{where}: unknown key {unknown[0]!r}; the accepted keys are {list(CLIP_KEYS)} "
            "(clip_norm bounds each parameter's gradient norm, clip_value each element)"
        )
    out = {}
    for key in CLIP_KEYS:
        value = clip_args.get(key)
        if value is None:
            continue
        # (mypy types numbers.Real without comparisons, hence the ignore.)
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:  # type: ignore[operator]
            raise ValueError(f"{where}: {key} must be a positive number, got {value!r}")
        out[key] = float(value)
    return out


def clip_gradients(params: Iterable[torch.Tensor], clip_args: Mapping[str, Any]) -> None:
    """Clips the gradient of each parameter in ``params`` on its own, in place.

    Args:
        params: tensors whose ``.grad`` is set.
        clip_args: a dict checked by :func:`check_clip_args`.

    Example:
        >>> p = torch.zeros(2, requires_grad=True); p.grad = torch.tensor([3.0, 4.0])
        >>> clip_gradients([p], {"clip_norm": 1.0}); [round(g, 4) for g in p.grad.tolist()]
        [0.6, 0.8]
    """
    clip_norm = clip_args.get("clip_norm")
    if clip_norm is not None:
        for p in params:
            torch.nn.utils.clip_grad_norm_([p], clip_norm)
    clip_value = clip_args.get("clip_value")
    if clip_value is not None:
        # Element-wise, so one call over all parameters equals one call each.
        torch.nn.utils.clip_grad_value_(list(params), clip_value)
