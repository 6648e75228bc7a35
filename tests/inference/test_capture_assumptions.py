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


WEIGHT = 2.0
SIZE = 3


def _weighted(x):
    return x * WEIGHT + torch.ones(SIZE)


def test_rebinding_a_global_number_breaks_the_capture():
    global WEIGHT
    held = CaptureAssumptions(_capture(_weighted), [_weighted])
    try:
        WEIGHT = 2.0 + 0.0  # an equal float bound anew: the capture still holds
        assert held.hold()
        WEIGHT = 2.5
        assert not held.hold()
        assert "global or closure value changed ('WEIGHT' from 2.0 to 2.5)" in held.describe()
        WEIGHT = 2  # equal, but an int: arithmetic on it may differ, so it does not hold
        assert not held.hold()
    finally:
        WEIGHT = 2.0
    assert held.hold()


def test_a_rebound_closure_number_breaks_the_capture():
    beta = 0.5

    def fn(x):
        return x * beta

    held = CaptureAssumptions(_capture(fn), [fn])
    assert held.hold()
    beta = 0.75  # noqa: F841 - rebinds the cell fn reads
    assert not held.hold()
    assert "'beta' from 0.5 to 0.75" in held.describe()


def _comprehension(x):
    return torch.stack([x * DATA[i] for i in range(3)])  # DATA read in the nested code


def test_a_global_read_inside_a_comprehension_is_watched():
    global DATA
    held = CaptureAssumptions(_capture(_comprehension), [_comprehension])
    old = DATA
    try:
        DATA = torch.tensor([4.0, 5.0, 6.0])
        assert not held.hold()
    finally:
        DATA = old
    assert held.hold()


def test_attribute_names_are_not_taken_for_globals():
    # `shape` is read as an attribute only: a global of that name is not watched.
    namespace = {"shape": 3}
    exec("def fn(x):\n    return x.reshape(x.shape)", namespace)
    held = CaptureAssumptions(_capture(namespace["fn"]), [namespace["fn"]])
    namespace["shape"] = 4
    assert held.hold()
    assert held.bindings == []


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


PRIOR_SCALE = 3.0


def _scaled_prior_model():
    loc = ppl.sample("loc", Normal(0.0, PRIOR_SCALE))
    with ppl.plate("data", 3):
        ppl.sample("x", Normal(loc, 1.0), obs=OBS)


def _losses_with_prior_scales(elbo, scales):
    global PRIOR_SCALE
    ppl.clear_param_store()
    torch.manual_seed(3)
    svi = SVI(_scaled_prior_model, _guide, Adam({"lr": 0.05}), elbo)
    losses = []
    try:
        for scale in scales:
            PRIOR_SCALE = scale  # a global number the captured program baked in
            losses.append(svi.step())
    finally:
        PRIOR_SCALE = 3.0
    return losses


@pytest.mark.slow
def test_a_compiled_step_sees_a_global_number_change():
    scales = [3.0] * 4 + [0.01] * 3
    eager = _losses_with_prior_scales(Trace_ELBO(), scales)
    compiled = _losses_with_prior_scales(JitTrace_ELBO(), scales)
    # The narrow prior makes the loss jump; a stale capture would keep scale 3.
    assert eager[4] > eager[3] + 20
    assert compiled == pytest.approx(eager, rel=1e-4)
