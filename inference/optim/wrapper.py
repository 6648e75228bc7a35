"""``Optimizer``: one torch optimizer over every parameter of the store.

Pyro builds one torch optimizer per parameter; a single optimizer with one
parameter group per new parameter gives the same updates for the per-element
optimizers (Adam, RMSprop, Adagrad, SGD) and costs one ``step`` call.
"""

import inspect

import torch

__all__ = ["Optimizer", "make_optimizer"]


class Optimizer:
    """Wraps a ``torch.optim`` class; parameters join on first use.

    Args:
        optim_cls: a ``torch.optim.Optimizer`` subclass.
        optim_args: keyword arguments for it (e.g. ``{"lr": 0.01}``), or a
            callable ``(name, param) -> dict`` giving per-parameter arguments.
        clip_args: optional ``{"clip_norm": c}`` clipping each gradient's norm.

    Example:
        >>> opt = Optimizer(torch.optim.SGD, {"lr": 0.5})
        >>> p = torch.tensor(1.0, requires_grad=True)
        >>> p.grad = torch.tensor(2.0)
        >>> opt.step({"p": p}); p.item()
        0.0
    """

    def __init__(self, optim_cls, optim_args=None, clip_args=None):
        self.optim_cls = optim_cls
        self.optim_args = optim_args if optim_args is not None else {}
        self.clip_args = clip_args or {}
        self.optimizer = None
        self._names = {}
        self._pending_state = None

    def _args_for(self, name, param):
        args = dict(self.optim_args(name, param) if callable(self.optim_args) else self.optim_args)
        # Multi-tensor (foreach) kernels are torch's default on GPUs only; on
        # CPU they also beat the per-tensor Python loop for many small params.
        if "foreach" in inspect.signature(self.optim_cls).parameters:
            args.setdefault("foreach", True)
        return args

    def _register(self, params):
        for name, p in params.items():
            if id(p) in self._names:
                continue
            args = self._args_for(name, p)
            if self.optimizer is None:
                self.optimizer = self.optim_cls([{"params": [p], **args}])
            elif not callable(self.optim_args) and not self.clip_args:
                # Shared settings: one group for all, so multi-tensor kernels
                # update every parameter in one call.
                self.optimizer.param_groups[0]["params"].append(p)
            else:
                self.optimizer.add_param_group({"params": [p], **args})
            self._names[id(p)] = name
        if self._pending_state is not None and self.optimizer is not None:
            self._restore(self._pending_state)

    def step(self, params):
        """Applies one update to the ``{name: unconstrained leaf}`` with gradients."""
        params = {n: p for n, p in params.items() if p.grad is not None}
        if not params:
            return
        self._register(params)
        clip = self.clip_args.get("clip_norm")
        if clip is not None:
            for p in params.values():
                torch.nn.utils.clip_grad_norm_([p], clip)
        self.optimizer.step()

    def __call__(self, params):
        self.step(params)

    def state_dict(self):
        """The optimizer state keyed by parameter name (plain tensors and numbers)."""
        if self.optimizer is None:
            return {}
        out = {}
        for group in self.optimizer.param_groups:
            for p in group["params"]:
                name = self._names[id(p)]
                state = self.optimizer.state.get(p, {})
                settings = {k: v for k, v in group.items() if k != "params"}
                out[name] = {"state": dict(state), "group": settings}
        return out

    def load_state_dict(self, state):
        """Restores state saved by :meth:`state_dict`, now or when parameters join."""
        self._pending_state = dict(state)
        if self.optimizer is not None:
            self._restore(self._pending_state)

    def _restore(self, state):
        for group in self.optimizer.param_groups:
            for p in group["params"]:
                saved = state.pop(self._names[id(p)], None)
                if saved is not None:
                    self.optimizer.state[p] = dict(saved["state"])
                    group.update(saved["group"])
        self._pending_state = state or None

    def get_lr(self):
        """Learning rates of the parameter groups, by parameter name."""
        if self.optimizer is None:
            return {}
        groups = self.optimizer.param_groups
        return {self._names[id(p)]: g["lr"] for g in groups for p in g["params"]}


def make_optimizer(optim_cls, name=None):
    """Builds a factory ``f(optim_args, clip_args=None) -> Optimizer`` for ``optim_cls``."""

    def factory(optim_args=None, clip_args=None):
        return Optimizer(optim_cls, optim_args, clip_args)

    factory.__name__ = name or optim_cls.__name__
    factory.__doc__ = f"An :class:`Optimizer` over ``torch.optim.{optim_cls.__name__}``."
    return factory
