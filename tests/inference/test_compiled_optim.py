"""The compiled steps' functional optimizer updates against torch's optimizers.

The updates are plain tensor functions, so they are checked eagerly here
(no compilation): five steps from the same start with the same gradients
must give torch's parameters and state, for every optimizer of
``inference.optim`` and the options that change its arithmetic.
"""

import pytest
import torch

from inference.compiled_optim import (
    UnsupportedOptimizerError,
    clip_gradient,
    finish_group,
    functional_update,
    host_update,
    step_rate,
)
from inference.optim import ClippedAdamOptimizer
from inference.optim.per_param import clip_gradients

CASES = [
    (torch.optim.SGD, {"lr": 0.1}),
    (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "maximize": True}),
    (torch.optim.Adam, {"lr": 0.1}),
    (torch.optim.Adam, {"lr": 0.1, "amsgrad": True, "weight_decay": 0.1}),
    (torch.optim.AdamW, {"lr": 0.1, "weight_decay": 0.1, "maximize": True}),
    (torch.optim.RMSprop, {"lr": 0.01}),
    (torch.optim.RMSprop, {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    (torch.optim.Adagrad, {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1}),
    (torch.optim.Adagrad, {"lr": 0.1, "initial_accumulator_value": 0.5}),
    (ClippedAdamOptimizer, {"lr": 0.1, "clip_norm": 0.5, "lrd": 0.9, "weight_decay": 0.1}),
]


def _gradients(steps):
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(3, generator=generator) * 3 for _ in range(steps)]


@pytest.mark.parametrize("cls, settings", CASES, ids=lambda v: getattr(v, "__name__", str(v)))
def test_functional_update_gives_torchs_steps(cls, settings):
    reference = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    ours = reference.detach().clone()
    optimizer = cls([reference], **settings)
    update, state, group = functional_update(cls), None, None
    for i, grad in enumerate(_gradients(5)):
        reference.grad = grad.clone()
        if i == 0:
            # Like a compiled step, ours starts from the state of an eager first step.
            optimizer.step()
            ours = reference.detach().clone()
            group = dict(optimizer.param_groups[0])  # ours: rates kept apart from torch's
            state = {
                k: v.clone() if torch.is_tensor(v) else v
                for k, v in optimizer.state[reference].items()
            }
            continue
        rate = torch.tensor(step_rate(cls, group), dtype=torch.float64)
        inputs = {k: v if torch.is_tensor(v) else torch.tensor(float(v)) for k, v in state.items()}
        ours, new = update(ours, grad, inputs, group, rate)
        state.update(new)
        host_update(cls, state, group)
        optimizer.step()
        finish_group(cls, group)  # ClippedAdam's decay of the rate, on the host
        assert group["lr"] == pytest.approx(optimizer.param_groups[0]["lr"])
    assert torch.allclose(ours, reference.detach(), rtol=1e-5, atol=1e-6)
    for key, value in optimizer.state[reference].items():
        assert torch.allclose(
            torch.as_tensor(state[key]).float(), torch.as_tensor(value).float(), rtol=1e-5
        ), key


def test_clip_gradient_matches_the_eager_clipping():
    grad = torch.tensor([3.0, -4.0, 0.5])
    for clip in ({"clip_norm": 1.0}, {"clip_value": 0.6}, {"clip_norm": 2.0, "clip_value": 0.9}):
        p = torch.zeros(3, requires_grad=True)
        p.grad = grad.clone()
        clip_gradients([p], clip)
        assert torch.allclose(clip_gradient(grad, clip), p.grad), clip


def test_an_optimizer_without_a_functional_update_is_named():
    with pytest.raises(UnsupportedOptimizerError, match="no compiled update for LBFGS"):
        functional_update(torch.optim.LBFGS)
