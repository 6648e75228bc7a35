"""The whole SVI step compiled (issue 14): same trajectory as eager, checks, fallbacks.

A compiled step draws from torch's generator in the eager step's order, so
with one seed a compiled run and an eager run take the same steps: equal
losses and parameters (up to float reassociation in fused kernels, hence the
``rel=1e-4`` tolerances) is the strongest form of "same estimator". Every
test compiles with inductor (seconds to tens of seconds on loaded cores), so
they are few and marked slow; timings live in ``benchmarks/bench_compile.py``.
"""

import math
import re

import pytest
import torch
from torch._inductor.utils import run_and_get_code
from torch.fx.experimental.proxy_tensor import make_fx
from torch.utils import _pytree as pytree

import ppl
from distributions import Bernoulli, Normal, TransformedDistribution, constraints
from distributions.transforms import ExpTransform
from inference import (
    SVI,
    JitTrace_ELBO,
    JitTraceGraph_ELBO,
    JitTraceMeanField_ELBO,
    NonFiniteStepWarning,
    Trace_ELBO,
    TraceGraph_ELBO,
)
from inference.compiled_optim import functional_update
from inference.compiled_step import CompileFallbackWarning
from inference.compiled_svi import _tensor_leaves
from inference.optim import SGD, Adam, ClippedAdam, ClippedAdamOptimizer
from ppl.handlers import condition

SIGMA = torch.tensor([15.0, 10.0, 16.0, 11.0])
Y = torch.tensor([28.0, 8.0, -3.0, 7.0])


def _schools(sigma, y):
    mu = ppl.sample("mu", Normal(0.0, 5.0))
    log_tau = ppl.sample("log_tau", Normal(0.0, 1.0))
    with ppl.plate("schools", y.shape[0]):
        raw = ppl.sample("raw", Normal(0.0, 1.0))
        ppl.sample("obs", Normal(mu + log_tau.exp() * raw, sigma), obs=y)


def _schools_guide(sigma, y):
    for name in ("mu", "log_tau"):
        loc = ppl.param(f"{name}_loc", torch.tensor(0.0))
        scale = ppl.param(f"{name}_scale", torch.tensor(1.0), constraint=constraints.positive)
        ppl.sample(name, Normal(loc, scale))
    with ppl.plate("schools", y.shape[0]):
        loc = ppl.param("raw_loc", torch.zeros(y.shape[0]))
        scale = ppl.param("raw_scale", torch.ones(y.shape[0]), constraint=constraints.positive)
        ppl.sample("raw", Normal(loc, scale))


def _coins(x):
    with ppl.plate("data", x.shape[0]):
        z = ppl.sample("z", Bernoulli(0.3))
        ppl.sample("x", Normal(2.0 * z - 1.0, 1.0), obs=x)


def _coins_guide(x):
    logit = ppl.param("logit", torch.zeros(x.shape[0]))
    baseline = {"baseline": {"use_decaying_avg_baseline": True}}
    with ppl.plate("data", x.shape[0]):
        ppl.sample("z", Bernoulli(logits=logit), infer=baseline)


class _Coder(torch.nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.hidden = torch.nn.Linear(n_in, n_hidden)
        self.out = torch.nn.Linear(n_hidden, n_out)

    def forward(self, x):
        return self.out(torch.tanh(self.hidden(x)))


def _vae_pair():
    torch.manual_seed(0)
    encoder, decoder = _Coder(6, 5, 4), _Coder(2, 5, 6)

    def model(x):
        ppl.module("decoder", decoder)
        with ppl.plate("batch", x.shape[0]):
            z = ppl.sample("z", Normal(torch.zeros(2), 1.0).to_event(1))
            ppl.sample("x", Bernoulli(logits=decoder(z)).to_event(1), obs=x)

    def guide(x):
        ppl.module("encoder", encoder)
        with ppl.plate("batch", x.shape[0]):
            out = encoder(x)
            ppl.sample("z", Normal(out[..., :2], out[..., 2:].exp()).to_event(1))

    return model, guide


def _run(model, guide, optim, elbo, args, steps=4, **svi_kwargs):
    ppl.clear_param_store()
    torch.manual_seed(7)
    svi = SVI(model, guide, optim, elbo, **svi_kwargs)
    losses = [svi.step(*args) for _ in range(steps)]
    params = {n: v.detach().clone() for n, v in ppl.get_param_store().named_parameters()}
    return svi, losses, params


def _assert_same_run(eager, compiled):
    _, eager_losses, eager_params = eager
    svi, losses, params = compiled
    assert losses == pytest.approx(eager_losses, rel=1e-4)
    assert params.keys() == eager_params.keys()
    for name, value in params.items():
        assert torch.allclose(value, eager_params[name], rtol=1e-4, atol=1e-5), name
    steps = svi.loss.svi_steps
    assert not steps.failed and steps.compiles == 1 and steps.warmups == 1


@pytest.mark.slow
def test_hierarchical_vectorized_particles_follow_the_eager_run():
    args = (SIGMA, Y)
    kwargs = dict(num_particles=3, vectorize_particles=True, max_plate_nesting=1)
    eager = _run(_schools, _schools_guide, Adam({"lr": 0.05}), Trace_ELBO(**kwargs), args)
    compiled = _run(_schools, _schools_guide, Adam({"lr": 0.05}), JitTrace_ELBO(**kwargs), args)
    _assert_same_run(eager, compiled)


@pytest.mark.slow
def test_discrete_tracegraph_with_baseline_follows_the_eager_run():
    x = torch.tensor([-1.5, 0.2, 1.8, 0.4])
    optim = ClippedAdam({"lr": 0.1, "lrd": 0.9})  # host-side step counter and decaying rate
    eager_elbo, jit_elbo = TraceGraph_ELBO(), JitTraceGraph_ELBO()
    eager = _run(_coins, _coins_guide, optim, eager_elbo, (x,), steps=5)
    compiled = _run(_coins, _coins_guide, ClippedAdam({"lr": 0.1, "lrd": 0.9}), jit_elbo, (x,), 5)
    _assert_same_run(eager, compiled)
    # The baseline's moving average moved with the compiled steps as with the eager ones.
    jit_elbo.baselines.commit(), eager_elbo.baselines.commit()  # the last step's, staged
    (eager_average,) = eager_elbo.baselines.averages.values()
    (average,) = jit_elbo.baselines.averages.values()
    assert torch.allclose(average, eager_average, rtol=1e-4)
    assert compiled[0].optim.get_lr() == pytest.approx(eager[0].optim.get_lr())


@pytest.mark.slow
def test_vae_shaped_modules_with_clipping_follow_the_eager_run():
    x = torch.bernoulli(torch.full((5, 6), 0.4), generator=torch.Generator().manual_seed(1))
    clip = {"clip_norm": 0.5}

    def run(elbo):
        model, guide = _vae_pair()
        return _run(model, guide, SGD({"lr": 0.1, "momentum": 0.5}, clip), elbo, (x,))

    _assert_same_run(run(Trace_ELBO()), run(JitTrace_ELBO()))


@pytest.mark.slow
def test_a_new_shape_recompiles_and_the_cache_is_bounded():
    elbo = JitTraceMeanField_ELBO(max_structures=1)
    svi = SVI(_schools, _schools_guide, Adam({"lr": 0.01}), elbo)
    for n in (4, 3):
        ppl.clear_param_store()  # parameters of the new shape
        for _ in range(3):
            svi.step(SIGMA[:n], Y[:n])
    steps = elbo.svi_steps
    assert (steps.warmups, steps.compiles, len(steps.programs)) == (2, 2, 1)
    assert not steps.failed


def _rows(x):
    loc = ppl.sample("loc", Normal(torch.zeros(4), 1.0).to_event(1))
    with ppl.plate("rows", x.shape[0]):
        ppl.sample("x", Normal(loc, 1.0).to_event(1), obs=x)


def _rows_guide(x):
    ppl.sample("loc", Normal(ppl.param("loc_q", torch.zeros(4)), 1.0).to_event(1))


@pytest.mark.slow
def test_the_same_shape_with_other_strides_is_another_structure():
    # The program is compiled for its inputs' strides: a transposed argument of
    # the same shape used to fail inductor's stride assertion (an AssertionError).
    x = torch.randn(4, 4, generator=torch.Generator().manual_seed(0))

    def run(elbo):
        ppl.clear_param_store()
        torch.manual_seed(7)
        svi = SVI(_rows, _rows_guide, Adam({"lr": 0.1}), elbo)
        losses = [svi.step(data) for data in (x, x, x.t(), x.t(), x.t())]
        return svi, losses

    _, eager = run(Trace_ELBO())
    svi, compiled = run(JitTrace_ELBO())
    assert compiled == pytest.approx(eager, rel=1e-4)
    steps = svi.loss.svi_steps
    assert (steps.warmups, steps.compiles, steps.failed) == (2, 2, False)


def _branchy(x):
    z = ppl.sample("z", Normal(0.0, 1.0))
    loc = 1.0 if z.item() > 0 else -1.0  # a Python branch on a value: no capture
    ppl.sample("x", Normal(loc, 1.0), obs=x)


def _branchy_guide(x):
    ppl.sample("z", Normal(ppl.param("loc", torch.tensor(0.0)), 1.0))


def test_a_value_branch_falls_back_to_eager_with_one_warning():
    svi = SVI(_branchy, _branchy_guide, Adam({"lr": 0.01}), JitTrace_ELBO())
    svi.step(torch.tensor(0.5))  # the eager warm-up
    with pytest.warns(
        CompileFallbackWarning,
        match=r"as one graph \(a branch on a tensor's value: Could not guard on data-dependent",
    ) as seen:
        for _ in range(3):
            assert math.isfinite(svi.step(torch.tensor(0.5)))
    assert len(seen) == 1
    assert svi.loss.svi_steps.failed and svi.loss.svi_steps.compiles == 0


@pytest.mark.slow
def test_a_non_finite_compiled_step_changes_nothing():
    x = torch.tensor([0.5, -0.5, 1.0, 0.0])
    svi, _, _ = _run(
        _coins, _coins_guide, Adam({"lr": 0.1}), JitTraceGraph_ELBO(), (x,), 3, skip_nonfinite=True
    )
    store, elbo = ppl.get_param_store(), svi.loss
    before = store.get_unconstrained("logit").detach().clone()
    adam = svi.optim.get_state()["logit"]["state"][0]  # copies (step, exp_avg, exp_avg_sq)
    elbo.baselines.commit()
    (average,) = [v.clone() for v in elbo.baselines.averages.values()]
    # An infinite observation is real (valid data) but has log-density -inf.
    with pytest.warns(
        NonFiniteStepWarning, match=r"loss=inf.*non-finite log-probs or values at sites \['x'\]"
    ):
        loss = svi.step(torch.tensor([math.inf, 0.0, 0.0, 0.0]))
    assert math.isinf(loss) and svi.num_skipped == 1
    assert torch.equal(store.get_unconstrained("logit"), before)
    after = svi.optim.get_state()["logit"]["state"][0]
    assert all(torch.equal(after[k], adam[k]) for k in adam)
    elbo.baselines.commit()
    assert torch.equal(next(iter(elbo.baselines.averages.values())), average)
    assert elbo.svi_steps.compiles == 1 and not elbo.svi_steps.failed  # it was a compiled step


def _binary(x):
    p = ppl.sample("p", Normal(0.0, 1.0))
    with ppl.plate("data", x.shape[0]):
        ppl.sample("x", Bernoulli(logits=p), obs=x)


def _binary_guide(x):
    ppl.sample("p", Normal(ppl.param("p_loc", torch.tensor(0.0)), 1.0))


@pytest.mark.slow
def test_invalid_data_in_a_compiled_step_raises_the_eager_error():
    good, bad = torch.tensor([0.0, 1.0, 1.0]), torch.tensor([0.0, 0.5, 1.0])
    ppl.clear_param_store()
    with pytest.raises(ValueError) as eager_error:
        SVI(_binary, _binary_guide, Adam({"lr": 0.1}), Trace_ELBO()).step(bad)
    ppl.clear_param_store()
    svi = SVI(_binary, _binary_guide, Adam({"lr": 0.1}), JitTrace_ELBO())
    svi.step(good), svi.step(good)  # warm-up, then the compiled step
    before = ppl.get_param_store().get_unconstrained("p_loc").detach().clone()
    with pytest.raises(ValueError) as compiled_error:
        svi.step(bad)
    assert str(compiled_error.value) == str(eager_error.value)
    assert torch.equal(ppl.get_param_store().get_unconstrained("p_loc"), before)
    assert svi.loss.svi_steps.compiles == 1


def _scale_model():
    scale = ppl.sample("scale", TransformedDistribution(Normal(0.0, 1.0), [ExpTransform()]))
    ppl.sample("y", Normal(0.0, scale))


def _scale_guide():
    loc = ppl.param("scale_loc", torch.tensor(0.0))
    ppl.sample("scale", TransformedDistribution(Normal(loc, 0.5), [ExpTransform()]))


@pytest.mark.slow
def test_a_handler_wrapped_model_and_a_transformed_guide_site_compile():
    model = condition(_scale_model, data={"y": torch.tensor(2.0)})
    eager = _run(model, _scale_guide, Adam({"lr": 0.1}), Trace_ELBO(), ())
    _assert_same_run(eager, _run(model, _scale_guide, Adam({"lr": 0.1}), JitTrace_ELBO(), ()))


def _elementwise_loops(code, size):
    # The bodies of inductor's C++ loops over ``size`` elements of the generated source.
    loop = rf"for\(int64_t x0=[^\n]*{size}L[^\n]*\n(.*?)\n        \}}\n    \}}"
    return re.findall(loop, code, re.S)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
@pytest.mark.parametrize(
    "cls, settings",
    [
        (torch.optim.Adam, {"lr": 0.1}),
        (torch.optim.Adagrad, {"lr": 0.1, "lr_decay": 0.01}),
        (ClippedAdamOptimizer, {"lr": 0.1, "clip_norm": 0.5, "lrd": 0.9}),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_per_step_numbers_of_a_compiled_update_stay_out_of_the_elementwise_loop(cls, settings):
    # Recomputed per vector of elements, Adam's ``beta ** step`` cost 2.4 of the
    # 2.9 ms of the VAE's update (inference.compiled_optim._once): no pow, and no
    # arithmetic on the float64 rate, may run inside the loop over the parameter
    # (reading the rate computed before the loop converts it to float, not to double).
    p = torch.zeros(4096, requires_grad=True)
    optimizer = cls([p], **settings)
    p.grad = torch.ones(4096)
    optimizer.step()
    group, keys = dict(optimizer.param_groups[0]), sorted(optimizer.state[p])
    state = [torch.as_tensor(optimizer.state[p][k], dtype=torch.float32) for k in keys]

    def update(param, grad, rate, *values):
        new, out = functional_update(cls)(param, grad, dict(zip(keys, values)), group, rate)
        return new, *out.values()

    inputs = [p.detach().clone(), torch.ones(4096), torch.tensor(0.1, dtype=torch.float64), *state]
    graph = make_fx(update)(*inputs)
    _, codes = run_and_get_code(lambda: torch._inductor.compile(graph, inputs))
    loops = _elementwise_loops("\n".join(codes), 4096)
    assert loops, "no elementwise loop found in the generated code"
    scalar = re.compile(r"std::pow|c10::convert<double>")
    for body in loops:
        assert not scalar.search(body), body


@pytest.mark.slow
def test_a_compiled_update_counts_as_an_in_place_change_of_the_parameters():
    # A graph that saved a parameter before the step cannot be backpropagated
    # after it: the step changed the value it saved. Eager steps bump the
    # parameter's version counter (torch's in-place update); a compiled step
    # must too, or autograd would silently use the new value.
    ppl.clear_param_store()
    svi = SVI(_schools, _schools_guide, Adam({"lr": 0.01}), JitTrace_ELBO())
    for _ in range(3):
        svi.step(SIGMA, Y)  # a warm-up, the capture, one compiled step
    assert svi.loss.svi_steps.compiles == 1
    leaf = ppl.get_param_store().get_unconstrained("raw_loc")
    before = leaf._version
    saved = (leaf * leaf).sum()  # saves the leaf for its backward
    svi.step(SIGMA, Y)
    assert leaf._version > before
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        saved.backward()


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((torch.zeros(2), torch.ones(3)), {}),
        ((torch.zeros(2), 3, torch.ones(1)), {}),
        (((torch.zeros(2), [torch.ones(1), "a"]),), {}),
        ((torch.zeros(2),), {"b": torch.ones(2), "a": torch.full((1,), 2.0), "n": 4}),
        ((), {}),
    ],
)
def test_the_step_inputs_are_the_tensor_leaves_in_pytree_order(args, kwargs):
    # The positional-tensors shortcut and the pytree walk give one order: the
    # compiled program's data inputs are laid out in it.
    expected = [
        x for x in pytree.tree_leaves((tuple(args), dict(kwargs))) if isinstance(x, torch.Tensor)
    ]
    got = _tensor_leaves(args, kwargs)
    assert len(got) == len(expected) and all(a is b for a, b in zip(got, expected))
