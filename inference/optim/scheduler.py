"""``LRScheduler``: a learning-rate schedule over the one store-wide optimizer."""

from inference.optim.wrapper import Optimizer

__all__ = ["LRScheduler", "make_scheduler"]


class LRScheduler(Optimizer):
    """An :class:`Optimizer` whose learning rate follows a ``torch.optim.lr_scheduler``.

    Call :meth:`step_schedule` (or ``.scheduler.step()``) once per epoch; the
    optimizer steps as usual inside SVI. Parameter groups added after the
    schedule started join it at its current rate.

    Args:
        scheduler_cls: a ``torch.optim.lr_scheduler`` class.
        args: ``{"optimizer": torch optim class, "optim_args": {...}, **scheduler kwargs}``.

    Example:
        >>> import torch
        >>> sched = LRScheduler(torch.optim.lr_scheduler.StepLR,
        ...     {"optimizer": torch.optim.SGD, "optim_args": {"lr": 1.0}, "step_size": 1})
        >>> p = torch.tensor(0.0, requires_grad=True); p.grad = torch.tensor(1.0)
        >>> sched.step({"p": p}); sched.step_schedule(); sched.get_lr()["p"]
        0.1
    """

    def __init__(self, scheduler_cls, args):
        args = dict(args)
        optim_cls = args.pop("optimizer")
        optim_args = args.pop("optim_args", {})
        clip_args = args.pop("clip_args", None)
        super().__init__(optim_cls, optim_args, clip_args)
        self.scheduler_cls = scheduler_cls
        self.scheduler_args = args
        self.scheduler = None

    def _register(self, params):
        before = len(self.optimizer.param_groups) if self.optimizer is not None else 0
        super()._register(params)
        if self.optimizer is None:
            return
        if self.scheduler is None:
            self.scheduler = self.scheduler_cls(self.optimizer, **self.scheduler_args)
            return
        for group in self.optimizer.param_groups[before:]:
            group.setdefault("initial_lr", group["lr"])
            self.scheduler.base_lrs.append(group["initial_lr"])
            if hasattr(self.scheduler, "_last_lr"):
                self.scheduler._last_lr.append(group["lr"])

    def step_schedule(self, *args, **kwargs):
        """Advances the schedule by one epoch (a no-op before the first step)."""
        if self.scheduler is not None:
            self.scheduler.step(*args, **kwargs)


def make_scheduler(scheduler_cls):
    """Builds a factory ``f(args) -> LRScheduler`` for a torch scheduler class."""

    def factory(args):
        return LRScheduler(scheduler_cls, args)

    factory.__name__ = scheduler_cls.__name__
    factory.__doc__ = f"An :class:`LRScheduler` over ``{scheduler_cls.__name__}``."
    return factory
