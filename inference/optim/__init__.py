"""Optimizers for SVI: one torch optimizer over all parameters of the store.

``Adam({"lr": 0.01})`` and friends mirror Pyro's ``pyro.optim``; any other
``torch.optim`` class works through :class:`Optimizer`, and learning-rate
schedules through :class:`LRScheduler` (``ExponentialLR``, ``StepLR``, ...).
As in Pyro, ``optim_args`` and ``clip_args`` are dicts or per-parameter
callables, ``clip_args={"clip_norm": c, "clip_value": v}`` clips each
parameter's gradient, and ``get_state``/``set_state`` (``save``/``load``)
checkpoint the optimizer in Pyro's per-parameter format.
"""

import torch

from inference.optim.clipped_adam import ClippedAdamOptimizer
from inference.optim.scheduler import LRScheduler, make_scheduler
from inference.optim.wrapper import Optimizer, make_optimizer

__all__ = [
    "Optimizer",
    "LRScheduler",
    "ClippedAdamOptimizer",
    "Adam",
    "AdamW",
    "SGD",
    "RMSprop",
    "Adagrad",
    "ClippedAdam",
    "ExponentialLR",
    "StepLR",
    "MultiStepLR",
    "CosineAnnealingLR",
    "ReduceLROnPlateau",
    "LambdaLR",
]

Adam = make_optimizer(torch.optim.Adam)
AdamW = make_optimizer(torch.optim.AdamW)
SGD = make_optimizer(torch.optim.SGD)
RMSprop = make_optimizer(torch.optim.RMSprop)
Adagrad = make_optimizer(torch.optim.Adagrad)
ClippedAdam = make_optimizer(ClippedAdamOptimizer, "ClippedAdam")

ExponentialLR = make_scheduler(torch.optim.lr_scheduler.ExponentialLR)
StepLR = make_scheduler(torch.optim.lr_scheduler.StepLR)
MultiStepLR = make_scheduler(torch.optim.lr_scheduler.MultiStepLR)
CosineAnnealingLR = make_scheduler(torch.optim.lr_scheduler.CosineAnnealingLR)
ReduceLROnPlateau = make_scheduler(torch.optim.lr_scheduler.ReduceLROnPlateau)
LambdaLR = make_scheduler(torch.optim.lr_scheduler.LambdaLR)
