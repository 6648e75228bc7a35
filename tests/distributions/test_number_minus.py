"""``number_minus`` gives ``torch.rsub``'s values and gradients, whichever path it takes."""

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from distributions.number_minus import KeptNumber, number_minus

_KEPT = KeptNumber(-0.918938533204672741780329736406)
SPECIALS = [0.0, -0.0, 1e-45, 1e-310, 3.4e38, float("inf"), float("-inf"), float("nan")]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("number", [_KEPT, KeptNumber(0.0), KeptNumber(-0.0)])
def test_values_and_gradients_are_rsubs(dtype, number):
    x = torch.cat(
        [torch.tensor(SPECIALS), torch.randn(50, generator=torch.Generator().manual_seed(0))]
    )
    x = x.to(dtype).requires_grad_()
    ours = number_minus(number, x)
    theirs = torch.rsub(x.detach(), number.value)
    assert ours.dtype == theirs.dtype == dtype
    torch.testing.assert_close(ours.detach(), theirs, rtol=0, atol=0, equal_nan=True)
    assert torch.equal(ours.detach().signbit(), theirs.signbit())  # -0.0 stays -0.0
    ours.sum().backward()
    assert torch.equal(x.grad, torch.full_like(x, -1.0))


class _Ops(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.seen = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.seen.append(func.overloadpacket)
        return func(*args, **(kwargs or {}))


def test_kept_tensor_is_used_outside_modes_and_never_inside_one():
    x = torch.randn(4)
    with _Ops() as ops:  # a dispatch mode (as make_fx): the number path, no foreign constant
        inside = number_minus(_KEPT, x)
    assert ops.seen == [torch.ops.aten.rsub]
    assert torch.equal(inside, number_minus(_KEPT, x))


def test_integer_tensors_take_the_number_path():
    ours = number_minus(_KEPT, torch.tensor([1, 2]))
    assert ours.dtype == torch.get_default_dtype()
    assert torch.equal(ours, torch.rsub(torch.tensor([1, 2]), _KEPT.value))
