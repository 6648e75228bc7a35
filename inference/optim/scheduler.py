"""``LRScheduler``: a learning-rate schedule over the one store-wide optimizer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from inference.optim.wrapper import Optimizer

__all__ = ["LRScheduler", "make_scheduler"]


class LRScheduler(Optimizer):
    """An :class:`Optimizer` whose learning rate follows a ``torch.optim.lr_scheduler``.

    As with Pyro's schedulers, SVI updates the parameters (by calling this
    object with them) and the user calls :meth:`step` once per epoch to
    advance the schedule (with the loss, for ``ReduceLROnPlateau``).
    Parameter groups added after the schedule started join it at its current
    rate.

    Args:
        scheduler_cls: a ``torch.optim.lr_scheduler`` class.
        args: ``{"optimizer": torch optim class, "optim_args": {...}, **scheduler kwargs}``;
            ``optim_args`` may be a per-parameter callable as for :class:`Optimizer`.
        clip_args: optional gradient clipping, as for :class:`Optimizer` (also
            accepted inside ``args``).

    Example:
        >>> import torch
        >>> sched = LRScheduler(torch.optim.lr_scheduler.StepLR,
        ...     {"optimizer": torch.optim.SGD, "optim_args": {"lr": 1.0}, "step_size": 1})
        >>> p = torch.tensor(0.0, requires_grad=True); p.grad = torch.tensor(1.0)
        >>> sched({"p": p}); sched.step(); sched.get_lr()["p"]
        0.1
    """

    def __init__(
        self,
        scheduler_cls: type,
        args: Mapping[str, Any],
        clip_args: dict[str, Any] | Callable[[str], dict[str, Any]] | None = None,
    ) -> None:
        args = dict(args)
        if "optimizer" not in args:
            raise ValueError(
                f"{scheduler_cls.__name__}: args needs the key 'optimizer' (a torch.optim "
                f"class) and usually 'optim_args', e.g. {{'optimizer': torch.optim.SGD, "
                f"'optim_args': {{'lr': 0.01}}, ...}}; got keys {sorted(args)}"
            )
        optim_cls = args.pop("optimizer")
        optim_args = args.pop("optim_args", {})
        clip_args = args.pop("clip_args", clip_args)
        super().__init__(optim_cls, optim_args, clip_args)
        self.scheduler_cls = scheduler_cls
        self.scheduler_args = args
        self.scheduler: Any = None  # a torch scheduler, built with the optimizer

    def _create(self, group: dict[str, Any]) -> None:
        super()._create(group)
        self.scheduler = self.scheduler_cls(self.optimizer, **self.scheduler_args)

    def _add_group(self, group: dict[str, Any]) -> None:
        before = len(self.optimizer.param_groups)
        super()._add_group(group)
        new = self.optimizer.param_groups[-1]
        new.setdefault("initial_lr", new["lr"])
        # Lists with one entry per group (base_lrs, min_lrs, lr_lambdas, ...)
        # grow with the new group, copying the last group's entry; lists of
        # other things (a SequentialLR's schedulers) are left alone.
        for value in vars(self.scheduler).values():
            if isinstance(value, list) and before and len(value) == before:
                if _per_group_entry(value[-1]):
                    value.append(value[-1])
        # ...except the rates, which are the new group's own.
        for key, value in (("base_lrs", new["initial_lr"]), ("_last_lr", new["lr"])):
            if isinstance(getattr(self.scheduler, key, None), list):
                getattr(self.scheduler, key)[-1] = value

    def _import(self, p: torch.Tensor, index: int, entry: Any, name: str) -> None:
        if isinstance(entry, dict) and "optimizer" in entry and "scheduler" in entry:
            super()._import(p, index, entry["optimizer"], name)
            self._import_schedule(index, entry["scheduler"])
        else:
            super()._import(p, index, entry, name)

    def _export(self, p: torch.Tensor, index: int) -> dict[str, Any]:
        return {"optimizer": super()._export(p, index), "scheduler": self._export_schedule(index)}

    def _export_schedule(self, index: int) -> dict[str, Any]:
        # The state of a one-group scheduler: per-group lists cut to this group.
        groups = len(self.optimizer.param_groups)
        out = {}
        for key, value in self.scheduler.state_dict().items():
            if isinstance(value, list) and len(value) == groups:
                value = [value[index]]
            out[key] = value
        return out

    def _import_schedule(self, index: int, saved: Mapping[str, Any]) -> None:
        current = self.scheduler.state_dict()
        for key, value in saved.items():
            target = current.get(key)
            if isinstance(value, list) and len(value) == 1 and isinstance(target, list):
                if index < len(target):
                    target[index] = value[0]
            else:
                current[key] = value
        self.scheduler.load_state_dict(current)

    def step(self, *args: Any, **kwargs: Any) -> None:
        """Advances the schedule by one epoch, as Pyro's ``scheduler.step()``.

        Arguments are the torch scheduler's (the loss, for ``ReduceLROnPlateau``).
        Before any parameter joined there is nothing to schedule, so it does
        nothing. A dict of parameters (``step(params)``, the plain
        :class:`Optimizer` call) updates them instead.
        """
        if len(args) == 1 and not kwargs and isinstance(args[0], dict):
            Optimizer.step(self, args[0])
            return
        if self.scheduler is not None:
            self.scheduler.step(*args, **kwargs)

    def step_schedule(self, *args: Any, **kwargs: Any) -> None:
        """Advances the schedule by one epoch (the same as :meth:`step`)."""
        if self.scheduler is not None:
            self.scheduler.step(*args, **kwargs)


def _per_group_entry(value: Any) -> bool:
    # Rates are numbers (or 0-dim tensors); lr_lambdas entries are functions.
    return isinstance(value, (int, float, torch.Tensor)) or (
        callable(value) and not hasattr(value, "step")
    )


def make_scheduler(scheduler_cls: type) -> Callable[..., LRScheduler]:
    """Builds a factory ``f(args, clip_args=None) -> LRScheduler`` for a torch scheduler class."""

    def factory(
        args: Mapping[str, Any],
        clip_args: dict[str, Any] | Callable[[str], dict[str, Any]] | None = None,
    ) -> LRScheduler:
        return LRScheduler(scheduler_cls, args, clip_args)

    factory.__name__ = scheduler_cls.__name__
    factory.__doc__ = f"An :class:`LRScheduler` over ``{scheduler_cls.__name__}``."
    return factory
