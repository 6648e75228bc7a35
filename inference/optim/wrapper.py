"""``Optimizer``: one torch optimizer over every parameter of the store.

Pyro builds one torch optimizer per parameter; a single optimizer with one
parameter group per new parameter gives the same updates for the per-element
optimizers (Adam, RMSprop, Adagrad, SGD) and costs one ``step`` call. The
checkpoint format is still Pyro's: :meth:`Optimizer.get_state` gives, per
parameter name, the ``state_dict()`` a one-parameter torch optimizer would
have, so states move between the two libraries.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.optim.optimizer as _torch_optimizer

from inference.optim.per_param import (
    args_for,
    check_args_spec,
    check_clip_args,
    clip_gradients,
)

__all__ = ["Optimizer", "make_optimizer"]

# On the CPU (torch 2.13, one thread) torch's fused kernels, where a class has
# one (Adam, AdamW, Adagrad, SGD), beat both of its other code paths: Adam's
# update of eight schools' six parameters takes 43 us fused, 107 with
# multi-tensor (foreach) kernels and 127 with the per-tensor loop; a 784-400-20
# VAE's ten, 0.48 ms against 1.9 and 2.4 (one pass over each tensor instead of
# one per arithmetic step); SGD with momentum 22 against 37 and 41 us. Plain SGD
# (no state) is within a few us either way, so one rule serves all. The
# updates differ from the loop's in the last bit only (1 ulp after 1000
# float32 steps). Fused kernels are chosen only for
# floating-point CPU parameters: complex ones have no fused kernel, and on an
# accelerator (where foreach is torch's default) a fused state keeps its step
# counter on the device, which a checkpoint from the loop does not.
# Classes without a fused kernel take foreach kernels from about three
# parameters in a group on (163 against 192 us for eight schools' six); with
# one or two the loop is faster (73 against 106 us for one 100-vector).
_FOREACH_FROM = 3


class Optimizer:
    """Wraps a ``torch.optim`` class; parameters join on first use.

    Args:
        optim_cls: a ``torch.optim.Optimizer`` subclass.
        optim_args: keyword arguments for it (e.g. ``{"lr": 0.01}``), or a
            callable returning them per parameter: ``f(param_name)`` or
            ``f(module_name, param_name)``, as in Pyro. Unless ``foreach``,
            ``fused`` or ``differentiable`` is given, the fastest of torch's
            code paths is chosen: its fused kernel where the class has one and
            the parameters are real floating-point CPU tensors (Adam's is
            2.5-4x faster there; updates can differ from torch's default in the
            last bit), else multi-tensor kernels (``foreach=True``) for a group
            of three or more parameters and the per-tensor loop for fewer.
            Pass ``{"fused": False}`` for torch's default arithmetic.
        clip_args: optional ``{"clip_norm": c, "clip_value": v}`` clipping
            each parameter's gradient on its own (its norm to at most ``c``,
            each element to ``[-v, v]``), or a callable returning such a dict
            per parameter, like ``optim_args``.

    Raises:
        TypeError: when ``optim_args`` or ``clip_args`` is neither a dict nor
            a callable, or ``optim_args`` names an argument ``optim_cls`` lacks.
        ValueError: on an unknown ``clip_args`` key or a non-positive bound.

    Example:
        >>> opt = Optimizer(torch.optim.SGD, {"lr": 0.5})
        >>> p = torch.tensor(1.0, requires_grad=True)
        >>> p.grad = torch.tensor(2.0)
        >>> opt.step({"p": p}); p.item()
        0.0
        >>> clipped = Optimizer(torch.optim.SGD, {"lr": 1.0}, clip_args={"clip_value": 0.1})
        >>> p.grad = torch.tensor(5.0); clipped.step({"p": p}); round(p.item(), 6)
        -0.1
    """

    def __init__(
        self,
        optim_cls: type,
        optim_args: dict[str, Any] | Callable[[str], dict[str, Any]] | None = None,
        clip_args: dict[str, Any] | Callable[[str], dict[str, Any]] | None = None,
    ) -> None:
        self.optim_cls = optim_cls
        self.optim_args = check_args_spec(optim_args, "optim_args")
        self.clip_args = check_args_spec(clip_args, "clip_args")
        if not callable(self.optim_args):
            _check_optim_keys(optim_cls, self.optim_args, "optim_args")
        self._shared_clip = None if callable(self.clip_args) else check_clip_args(self.clip_args)
        self.optimizer: Any = None  # a torch optimizer, built when the first parameter joins
        self._names: dict[int, str] = {}
        self._clips: dict[int, Any] = {}
        self._pending_state: dict[str, Any] = {}
        self._unfusable_groups: set[int] = set()  # indices of groups with a non-CPU/complex param

    # ------------------------------------------------------------ joining
    def _args_for(self, name: str) -> dict[str, Any]:
        args = args_for(self.optim_args, name, "optim_args")
        if callable(self.optim_args):
            _check_optim_keys(self.optim_cls, args, f"optim_args for parameter '{name}'")
        return args

    def _choose_kernel(self, index: int, p: torch.Tensor, args: dict[str, Any]) -> None:
        # Ours to choose unless the user chose (foreach, fused, or
        # differentiable, which fused kernels refuse); see _FOREACH_FROM's
        # comment. ``p`` has just joined group ``index``; a restored state may
        # have set the group's switches just before, and is overridden as the
        # user's arguments are not.
        if "foreach" in args or args.get("fused") or args.get("differentiable"):
            return
        group = self.optimizer.param_groups[index]
        accepted = _accepted_args(self.optim_cls) or {}
        if "fused" in accepted and "fused" not in args:
            # Fused while every parameter that joined the group can be.
            if not _fusable(p):
                self._unfusable_groups.add(index)
            fused = index not in self._unfusable_groups
            group["fused"] = fused
            if fused:
                group["foreach"] = False
                return
        if "foreach" in accepted:
            # A restored fused=True (the user's fused=False gave way to a
            # checkpoint, as in torch) excludes foreach.
            group["foreach"] = len(group["params"]) >= _FOREACH_FROM and not group.get("fused")

    def _register(self, params: Mapping[str, torch.Tensor]) -> None:
        for name, p in params.items():
            if id(p) in self._names:
                continue
            args = self._args_for(name)
            if self.optimizer is None:
                self._create({"params": [p], **args})
            elif not callable(self.optim_args):
                # Shared settings: one group for all, so multi-tensor kernels
                # update every parameter in one call.
                self.optimizer.param_groups[0]["params"].append(p)
            else:
                self._add_group({"params": [p], **args})
            self._names[id(p)] = name
            if self._shared_clip is None:
                clip = args_for(self.clip_args, name, "clip_args")
                self._clips[id(p)] = check_clip_args(clip, name)
            # The shared group, or the one just added for p.
            index = len(self.optimizer.param_groups) - 1 if callable(self.optim_args) else 0
            entry = self._pending_state.pop(name, None)
            if entry is not None:
                self._import(p, index, entry, name)
            self._choose_kernel(index, p, args)

    def _create(self, group: dict[str, Any]) -> None:
        self.optimizer = self.optim_cls([group])

    def _add_group(self, group: dict[str, Any]) -> None:
        self.optimizer.add_param_group(group)

    def _group_index(self, p: torch.Tensor) -> int:
        for index, group in enumerate(self.optimizer.param_groups):
            if any(q is p for q in group["params"]):
                return index
        raise KeyError(f"parameter '{self._names.get(id(p))}' is in no parameter group")

    # ----------------------------------------------------------- stepping
    def step(self, params: Mapping[str, torch.Tensor]) -> None:
        """Applies one update to the ``{name: unconstrained leaf}`` with gradients."""
        params = {n: p for n, p in params.items() if p.grad is not None}
        if not params:
            return
        self._register(params)
        if self._shared_clip is not None:
            if self._shared_clip:
                clip_gradients(params.values(), self._shared_clip)
        else:
            for p in params.values():
                clip_gradients([p], self._clips[id(p)])
        _torch_step(self.optimizer)

    def __call__(self, params: Mapping[str, torch.Tensor]) -> None:
        Optimizer.step(self, params)

    # -------------------------------------------------------------- state
    def get_state(self) -> dict[str, Any]:
        """The optimizer state for a checkpoint, as Pyro's ``PyroOptim.get_state``.

        Returns:
            ``{param_name: state_dict}``, where ``state_dict`` is what a torch
            optimizer holding only that parameter returns (``{"state": {0:
            ...}, "param_groups": [...]}``). Tensors are copies: later steps
            do not change a snapshot. States set by :meth:`set_state` for
            parameters that have not joined yet are included as given.

        Example:
            >>> opt = Optimizer(torch.optim.Adam, {"lr": 0.1})
            >>> p = torch.zeros(2, requires_grad=True); p.grad = torch.ones(2)
            >>> opt.step({"p": p}); fresh = Optimizer(torch.optim.Adam, {"lr": 0.1})
            >>> fresh.set_state(opt.get_state()); fresh.step({"p": p})
            >>> fresh.get_state()["p"]["state"][0]["step"].item()
            2.0
        """
        out = dict(self._pending_state)
        if self.optimizer is None:
            return out
        for index, group in enumerate(self.optimizer.param_groups):
            for p in group["params"]:
                out[self._names[id(p)]] = self._export(p, index)
        return out

    def set_state(self, state: dict[str, Any]) -> None:
        """Restores a :meth:`get_state` snapshot: now for joined parameters, else when they join.

        Raises:
            ValueError: when an entry is not a per-parameter optimizer state.
        """
        self._pending_state.update(state)
        if self.optimizer is None:
            return
        for index, group in enumerate(self.optimizer.param_groups):
            for p in group["params"]:
                name = self._names[id(p)]
                entry = self._pending_state.pop(name, None)
                if entry is not None:
                    self._import(p, index, entry, name)

    def save(self, filename: str | os.PathLike[str]) -> None:
        """Writes :meth:`get_state` to ``filename`` with ``torch.save``."""
        torch.save(self.get_state(), filename)

    def load(self, filename: str | os.PathLike[str], map_location: Any = None) -> None:
        """Reads a file written by :meth:`save` (tensors and plain data only) and sets it."""
        self.set_state(torch.load(filename, map_location=map_location, weights_only=True))

    def state_dict(self) -> dict[str, Any]:
        """The state keyed by name, in the compact form ``{"state": ..., "group": ...}``."""
        out = {}
        for name, entry in self.get_state().items():
            torch_form = entry.get("optimizer", entry)
            if "param_groups" not in torch_form:
                out[name] = entry
                continue
            settings = {k: v for k, v in torch_form["param_groups"][0].items() if k != "params"}
            out[name] = {"state": torch_form["state"].get(0, {}), "group": settings}
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores state saved by :meth:`state_dict` or :meth:`get_state`."""
        self.set_state(state)

    def _export(self, p: torch.Tensor, index: int) -> dict[str, Any]:
        group = self.optimizer.param_groups[index]
        settings = {k: v for k, v in group.items() if k != "params"}
        state = _copy_state(self.optimizer.state.get(p, {}), None)
        return {"state": {0: state} if state else {}, "param_groups": [{**settings, "params": [0]}]}

    def _import(self, p: torch.Tensor, index: int, entry: Any, name: str) -> None:
        state, settings = _parse_entry(entry, name)
        if state:
            self.optimizer.state[p] = _copy_state(state, p)
        self.optimizer.param_groups[index].update(settings)

    def get_lr(self) -> dict[str, float]:
        """Learning rates of the parameter groups, by parameter name."""
        if self.optimizer is None:
            return {}
        groups = self.optimizer.param_groups
        return {self._names[id(p)]: g["lr"] for g in groups for p in g["params"]}


def _torch_step(optimizer: Any) -> None:
    """``optimizer.step()``, without torch's profiler wrapper when nothing observes it.

    torch wraps every optimizer class's ``step`` in a function that opens a
    profiler ``record_function`` and runs the global and per-instance step
    hooks around the update (``Optimizer.profile_hook_step``); the record costs
    about 10 us per call even with the profiler off, a few per cent of a small
    model's step. With no hook registered, the profiler off, no instance-level
    ``step`` (torch's ``LRScheduler`` installs one to count calls) and nothing
    being compiled, that wrapper does nothing but the record, so the function
    it wraps is called directly: the same update, under the same ``no_grad``
    handling (``_use_grad``, which is inside the wrapper). Anything else takes
    the public ``step()``, and so does a torch whose private names read here
    (``hooked``, the hook dictionaries) have changed.
    """
    step = type(optimizer).step
    inner = getattr(step, "__wrapped__", None)
    if (
        inner is None
        or not getattr(step, "hooked", False)
        or "step" in vars(optimizer)
        or getattr(optimizer, "_optimizer_step_pre_hooks", True)
        or getattr(optimizer, "_optimizer_step_post_hooks", True)
        or getattr(_torch_optimizer, "_global_optimizer_pre_hooks", True)
        or getattr(_torch_optimizer, "_global_optimizer_post_hooks", True)
        or torch.autograd._profiler_enabled()
        or torch.compiler.is_compiling()
    ):
        optimizer.step()
        return
    inner(optimizer)


def _accepted_args(optim_cls: type) -> Mapping[str, inspect.Parameter] | None:
    # The constructor's parameters; None when its signature cannot be read.
    try:
        return inspect.signature(optim_cls).parameters
    except (TypeError, ValueError):
        return None


def _fusable(p: torch.Tensor) -> bool:
    return p.device.type == "cpu" and p.is_floating_point()


def _check_optim_keys(optim_cls: type, args: Mapping[str, Any], where: str) -> None:
    accepted = _accepted_args(optim_cls)
    if accepted is None or any(p.kind == p.VAR_KEYWORD for p in accepted.values()):
        return
    unknown = sorted(set(args) - set(accepted) - {"params"})
    if unknown:
        names = [n for n in accepted if n != "params"]
        raise TypeError(
            f"{where}: {optim_cls.__name__} has no argument {unknown[0]!r}; it accepts {names}"
        )


def _parse_entry(entry: Any, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    # Pyro's (torch's one-parameter state_dict) form, or the compact one.
    if isinstance(entry, dict) and "param_groups" in entry and "state" in entry:
        state = entry["state"]
        state = next(iter(state.values())) if state else {}
        settings = {k: v for k, v in entry["param_groups"][0].items() if k != "params"}
        return state, settings
    if isinstance(entry, dict) and "group" in entry and "state" in entry:
        return entry["state"], dict(entry["group"])
    keys = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
    raise ValueError(
        f"optimizer state for parameter '{name}': expected a dict with 'state' and "
        f"'param_groups' (from get_state) or 'state' and 'group' (from state_dict), got {keys}"
    )


def _copy_state(state: Mapping[str, Any], like: torch.Tensor | None) -> dict[str, Any]:
    # Copies so a snapshot and the live state never share storage; on restore,
    # floating state moves to the parameter's device and dtype ("step" keeps its own).
    out = {}
    for key, value in state.items():
        if isinstance(value, torch.Tensor):
            value = value.detach().clone()
            if like is not None:
                cast = value.is_floating_point() and key != "step"
                value = value.to(device=like.device, dtype=like.dtype if cast else None)
        out[key] = value
    return out


def make_optimizer(optim_cls: type, name: str | None = None) -> Callable[..., Optimizer]:
    """Builds a factory ``f(optim_args, clip_args=None) -> Optimizer`` for ``optim_cls``."""

    def factory(
        optim_args: dict[str, Any] | Callable[[str], dict[str, Any]] | None = None,
        clip_args: dict[str, Any] | Callable[[str], dict[str, Any]] | None = None,
    ) -> Optimizer:
        return Optimizer(optim_cls, optim_args, clip_args)

    factory.__name__ = name or optim_cls.__name__
    factory.__doc__ = f"An :class:`Optimizer` over ``torch.optim.{optim_cls.__name__}``."
    return factory
