"""Functional optimizer updates for compiled SVI steps.

A compiled step (:mod:`inference.compiled_svi`) cannot call a torch
optimizer's ``step``: it reads its step counter on the host (``.item()``) and
updates tensors in place outside the traced program. Each optimizer of
:mod:`inference.optim` therefore has a pure update here, registered by its
torch class: ``update(param, grad, state, group, lr) -> (param, state)`` with
tensors in and tensors out, the same arithmetic as torch's single-tensor code
path (up to float reassociation). The state tensors are the torch
optimizer's own (``optimizer.state[p]``), so checkpoints, ``get_state`` and
an eager step after a compiled one all see one state.

Python numbers in a state (``ClippedAdam``'s step counter) and in a group
(its decaying learning rate) stay on the host: :func:`host_update` advances
them after an accepted step, as the eager ``step`` would have.

Example:
    >>> import torch
    >>> update = functional_update(torch.optim.SGD)
    >>> group = {"momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0,
    ...          "nesterov": False, "maximize": False}
    >>> p, _ = update(torch.tensor(1.0), torch.tensor(2.0), {}, group, torch.tensor(0.5))
    >>> p.item()
    0.0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from inference.optim.clipped_adam import ClippedAdamOptimizer

__all__ = [
    "UnsupportedOptimizerError",
    "clip_gradient",
    "finish_group",
    "functional_update",
    "host_update",
    "register_update",
    "step_rate",
]

#: ``update(param, grad, state, group, lr) -> (param, new_state)``.
_Update = Callable[
    [torch.Tensor, torch.Tensor, dict[str, Any], dict[str, Any], Any],
    tuple[torch.Tensor, dict[str, Any]],
]

_UPDATES: dict[type, _Update] = {}
_HOST_UPDATES: dict[type, Callable[[dict[str, Any], dict[str, Any]], None]] = {}


class UnsupportedOptimizerError(TypeError):
    """The optimizer has no functional update (or uses an option it does not cover)."""


def register_update(
    optim_cls: type, host: Callable[[dict[str, Any], dict[str, Any]], None] | None = None
) -> Callable[[_Update], _Update]:
    """Registers the decorated function as the functional update of ``optim_cls``.

    Args:
        optim_cls: a ``torch.optim.Optimizer`` subclass.
        host: optional ``host(state, group)`` run after each accepted step.

    Returns:
        The decorator.
    """

    def decorator(fn: _Update) -> _Update:
        _UPDATES[optim_cls] = fn
        if host is not None:
            _HOST_UPDATES[optim_cls] = host
        return fn

    return decorator


def functional_update(optim_cls: type) -> _Update:
    """The registered update of ``optim_cls`` (exact class, then its bases).

    Raises:
        UnsupportedOptimizerError: when no base of ``optim_cls`` is registered.
    """
    for cls in optim_cls.__mro__:
        if cls in _UPDATES:
            return _UPDATES[cls]
    raise UnsupportedOptimizerError(
        f"no compiled update for {optim_cls.__name__}; compiled steps support "
        f"{sorted(c.__name__ for c in _UPDATES)}"
    )


def host_update(optim_cls: type, state: dict[str, Any], group: dict[str, Any]) -> None:
    """Advances the host-side numbers of an accepted step (a no-op for most optimizers)."""
    for cls in optim_cls.__mro__:
        if cls in _HOST_UPDATES:
            _HOST_UPDATES[cls](state, group)
            return


def clip_gradient(grad: torch.Tensor, clip_args: dict[str, Any]) -> torch.Tensor:
    """``clip_args`` applied to one gradient, as :func:`inference.optim.per_param.clip_gradients`.

    Example:
        >>> clipped = clip_gradient(torch.tensor([3.0, 4.0]), {"clip_norm": 1.0})
        >>> [round(g, 4) for g in clipped.tolist()]
        [0.6, 0.8]
    """
    clip_norm = clip_args.get("clip_norm")
    if clip_norm is not None:
        # torch.nn.utils.clip_grad_norm_'s rule: scale by max_norm / (norm + 1e-6), at most 1.
        coef = clip_norm / (torch.linalg.vector_norm(grad) + 1e-6)
        grad = grad * torch.clamp(coef, max=1.0)
    clip_value = clip_args.get("clip_value")
    if clip_value is not None:
        grad = grad.clamp(-clip_value, clip_value)
    return grad


def _refuse(group: dict[str, Any], *options: str) -> None:
    for option in options:
        if group.get(option):
            raise UnsupportedOptimizerError(f"compiled steps do not support {option}=True")


def _once(*scalars: Any) -> tuple[Any, ...]:
    # The per-step numbers of an update (bias corrections, decayed rates), held
    # in one small buffer. Inductor inlines a 0-d expression into every loop that
    # reads it, and since the loop's stores may alias its inputs the C++ compiler
    # cannot hoist it: ``beta ** step`` ran once per vector of 8 elements, 2.4 of
    # the 2.9 ms of a compiled Adam update of the 650k VAE parameters. A stack is
    # a buffer written before the loop, which then reads it with one load. The
    # numbers are the same (widening to the common dtype and back is exact); only
    # the fused code around them may round differently in the last bit (the VAE's
    # trajectory is bit for bit the same, eight schools' moves by one ulp).
    if not all(isinstance(s, torch.Tensor) for s in scalars):
        return scalars  # Python numbers are computed once already
    # A stack of one is a view (inlined again): a single number is stacked twice.
    padded = scalars if len(scalars) > 1 else scalars * 2
    return tuple(torch.stack(torch.broadcast_tensors(*padded)).unbind())[: len(scalars)]


def _direction(p: torch.Tensor, grad: torch.Tensor, group: dict[str, Any]) -> torch.Tensor:
    # torch's common first move: flip the gradient to maximize, then add the
    # L2 weight decay (coupled: AdamW's decoupled decay moves p itself instead).
    grad = -grad if group.get("maximize") else grad
    decay = group.get("weight_decay", 0)
    if decay and not group.get("decoupled_weight_decay"):
        grad = grad + decay * p
    return grad


@register_update(torch.optim.SGD)
def _sgd(
    p: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any], lr: Any
) -> tuple[torch.Tensor, dict[str, Any]]:
    grad = _direction(p, grad, group)
    momentum, out = group["momentum"], {}
    if momentum:
        buf = state.get("momentum_buffer")
        buf = grad if buf is None else buf * momentum + (1 - group["dampening"]) * grad
        out["momentum_buffer"] = buf
        grad = grad + momentum * buf if group["nesterov"] else buf
    return p - lr * grad, out


@register_update(torch.optim.Adam)
def _adam(
    p: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any], lr: Any
) -> tuple[torch.Tensor, dict[str, Any]]:
    # torch.optim.AdamW is Adam with decoupled_weight_decay=True.
    _refuse(group, "differentiable")
    grad = _direction(p, grad, group)
    beta1, beta2 = group["betas"]
    decay = group["weight_decay"]
    if decay and group.get("decoupled_weight_decay"):
        p = p * (1 - lr * decay)
    step = state["step"] + 1
    exp_avg = state["exp_avg"] * beta1 + (1 - beta1) * grad
    exp_avg_sq = state["exp_avg_sq"] * beta2 + (1 - beta2) * grad * grad
    out = {"step": step, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}
    second = exp_avg_sq
    if group["amsgrad"]:
        second = torch.maximum(state["max_exp_avg_sq"], exp_avg_sq)
        out["max_exp_avg_sq"] = second
    step_size, bias2_sqrt = _once(lr / (1 - beta1**step), (1 - beta2**step).sqrt())
    denom = second.sqrt() / bias2_sqrt + group["eps"]
    return p - step_size * exp_avg / denom, out


@register_update(torch.optim.RMSprop)
def _rmsprop(
    p: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any], lr: Any
) -> tuple[torch.Tensor, dict[str, Any]]:
    _refuse(group, "differentiable")
    grad = _direction(p, grad, group)
    alpha = group["alpha"]
    square_avg = state["square_avg"] * alpha + (1 - alpha) * grad * grad
    out = {"step": state["step"] + 1, "square_avg": square_avg}
    if group["centered"]:
        grad_avg = state["grad_avg"] * alpha + (1 - alpha) * grad
        out["grad_avg"] = grad_avg
        avg = (square_avg - grad_avg * grad_avg).sqrt() + group["eps"]
    else:
        avg = square_avg.sqrt() + group["eps"]
    if group["momentum"] > 0:
        buf = state["momentum_buffer"] * group["momentum"] + grad / avg
        out["momentum_buffer"] = buf
        return p - lr * buf, out
    return p - lr * grad / avg, out


@register_update(torch.optim.Adagrad)
def _adagrad(
    p: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any], lr: Any
) -> tuple[torch.Tensor, dict[str, Any]]:
    _refuse(group, "differentiable")
    grad = _direction(p, grad, group)
    step = state["step"] + 1
    (clr,) = _once(lr / (1 + (step - 1) * group["lr_decay"]))
    total = state["sum"] + grad * grad
    return p - clr * grad / (total.sqrt() + group["eps"]), {"step": step, "sum": total}


def _clipped_adam_host(state: dict[str, Any], group: dict[str, Any]) -> None:
    # ClippedAdamOptimizer.step keeps its counter and decaying rate as Python numbers.
    state["step"] += 1


def _clipped_adam_group_host(group: dict[str, Any]) -> None:
    group["lr"] *= group["lrd"]


@register_update(ClippedAdamOptimizer, host=_clipped_adam_host)
def _clipped_adam(
    p: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any], lr: Any
) -> tuple[torch.Tensor, dict[str, Any]]:
    # ``lr`` is the rate of this step (already multiplied by lrd, see decay_group_rates);
    # ``state["step"]`` arrives as a tensor holding the host counter.
    grad = _direction(p, grad.clamp(-group["clip_norm"], group["clip_norm"]), group)
    beta1, beta2 = group["betas"]
    step = state["step"] + 1
    exp_avg = state["exp_avg"] * beta1 + (1 - beta1) * grad
    exp_avg_sq = state["exp_avg_sq"] * beta2 + (1 - beta2) * grad * grad
    step_size, bias2 = _once(lr / (1 - beta1**step), 1 - beta2**step)
    denom = (exp_avg_sq / bias2).sqrt() + group["eps"]
    new = p - step_size * exp_avg / denom
    return new, {"exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}


def step_rate(optim_cls: type, group: dict[str, Any]) -> float:
    """The learning rate this step uses (``ClippedAdam`` decays it before updating).

    Example:
        >>> step_rate(ClippedAdamOptimizer, {"lr": 1.0, "lrd": 0.5})
        0.5
    """
    if issubclass(optim_cls, ClippedAdamOptimizer):
        return group["lr"] * group["lrd"]
    return group["lr"]


def finish_group(optim_cls: type, group: dict[str, Any]) -> None:
    """Host work on a group after an accepted step (``ClippedAdam``'s rate decay)."""
    if issubclass(optim_cls, ClippedAdamOptimizer):
        _clipped_adam_group_host(group)
