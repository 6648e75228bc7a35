"""A captured SVI program notices when the tensors it closes over change (no stale constants)."""

import warnings

import pytest
import torch
from torch.fx.experimental.proxy_tensor import make_fx

import ppl
from distributions import Normal, constraints
from inference import SVI, JitTrace_ELBO, Trace_ELBO
from inference.capture_assumptions import CaptureAssumptions
from inference.compiled_step import CompileFallbackWarning
from inference.optim import Adam

DATA = torch.tensor([1.0, 2.0, 3.0])
SHIFT = torch.tensor(0.5)


def _scaled(x):
    return x * DATA + SHIFT


def _capture(fn):
    return make_fx(fn, tracing_mode="fake", _allow_non_fake_inputs=True)(torch.ones(3))


def test_an_in_place_change_of_a_constant_breaks_the_capture():
    held = CaptureAssumptions(_capture(_scaled), [_scaled])
    assert held.hold()
    before = SHIFT.clone()
    try:
        SHIFT.add_(1.0)
        assert not held.hold()
        assert "closes over (shape ()) was changed in place" in held.describe()
    finally:
        SHIFT.copy_(before)


def test_rebinding_a_global_tensor_breaks_the_capture():
    global DATA
    held = CaptureAssumptions(_capture(_scaled), [_scaled])
    old = DATA
    try:
        DATA = torch.tensor([4.0, 5.0, 6.0])
        assert not held.hold()
        assert "'DATA' was rebound" in held.describe()
    finally:
        DATA = old
    assert held.hold()


def test_a_rebound_closure_cell_breaks_the_capture():
    scale = torch.tensor(2.0)

    def fn(x):
        return x * scale

    held = CaptureAssumptions(_capture(fn), [fn])
    scale = torch.tensor(3.0)  # noqa: F841 - rebinds the cell fn reads
    assert not held.hold()


OBS = torch.tensor([0.5, 1.5, -0.2])


def _model():
    loc = ppl.sample("loc", Normal(0.0, 3.0))
    with ppl.plate("data", 3):
        ppl.sample("x", Normal(loc, 1.0), obs=OBS)


def _guide():
    m = ppl.param("m", torch.tensor(0.0))
    s = ppl.param("s", torch.tensor(1.0), constraint=constraints.positive)
    ppl.sample("loc", Normal(m, s))


def _losses(elbo, steps=6, change_at=4):
    ppl.clear_param_store()
    torch.manual_seed(3)
    svi = SVI(_model, _guide, Adam({"lr": 0.05}), elbo)
    before = OBS.clone()
    losses = []
    try:
        for i in range(steps):
            if i == change_at:
                OBS.add_(10.0)  # the data the model closes over moves in place
            losses.append(svi.step())
    finally:
        OBS.copy_(before)
    return losses


@pytest.mark.slow
def test_a_compiled_step_sees_data_the_model_closes_over_change():
    eager = _losses(Trace_ELBO())
    compiled = _losses(JitTrace_ELBO())
    # Same seed, same draws: after the change the compiled run must follow the
    # eager run's much larger losses, not keep scoring the captured old data.
    assert compiled == pytest.approx(eager, rel=1e-4)
    assert eager[4] > eager[3] + 20


@pytest.mark.slow
def test_constants_that_keep_changing_fall_back_to_eager_with_a_warning():
    ppl.clear_param_store()
    svi = SVI(_model, _guide, Adam({"lr": 0.05}), JitTrace_ELBO())
    before = OBS.clone()
    try:
        changed = r"closes over \(shape \(3,\)\) was changed in place 4 times; pass"
        with pytest.warns(CompileFallbackWarning, match=changed):
            for _ in range(12):
                OBS.add_(0.01)
                svi.step()
        # From now on the steps are eager: no capture, no second warning.
        compiles = svi.loss.svi_steps.compiles
        with warnings.catch_warnings():
            warnings.simplefilter("error", CompileFallbackWarning)
            for _ in range(3):
                OBS.add_(0.01)
                svi.step()
        assert svi.loss.svi_steps.compiles == compiles
    finally:
        OBS.copy_(before)
