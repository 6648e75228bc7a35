"""Compiled losses (issue 14): ``loss_and_grads`` of the Jit ELBOs against closed forms, fallback.

The whole compiled SVI step (optimizer included, non-finite steps, data
validation) is tested in ``test_compiled_svi.py``.

Every test here compiles with inductor (tens of seconds on two loaded cores),
so they are few and marked slow. Timings live in benchmarks/bench_compile.py.
"""

import math

import pytest
import torch

import ppl
from distributions import Bernoulli, Normal, constraints
from inference import (
    SVI,
    JitTrace_ELBO,
    JitTraceGraph_ELBO,
    Trace_ELBO,
)
from inference.compiled_step import CompileFallbackWarning
from inference.optim import Adam
from inference.stochastic_graph import ConservativeGraphWarning


def _normal_model(x):
    with ppl.plate("data", x.shape[0]):
        z = ppl.sample("z", Normal(0.0, 1.0))
        ppl.sample("x", Normal(z, 1.0), obs=x)


def _normal_guide(x):
    loc = ppl.param("loc", torch.zeros(x.shape[0]))
    scale = ppl.param("scale", torch.ones(x.shape[0]), constraint=constraints.positive)
    with ppl.plate("data", x.shape[0]):
        ppl.sample("z", Normal(loc, scale))


def _mean_grad(elbo, x, steps):
    """The loss and mean gradient of ``loc`` over ``steps`` estimates at fixed parameters."""
    total = torch.zeros(x.shape[0])
    for _ in range(steps):
        elbo.loss_and_grads(_normal_model, _normal_guide, x)
        loc = ppl.get_param_store().get_unconstrained("loc")
        total += loc.grad
        loc.grad = None
        ppl.get_param_store().get_unconstrained("scale").grad = None
    return total / steps


@pytest.mark.slow
def test_compiled_pathwise_gradient_matches_closed_form_and_recompiles_on_a_new_shape():
    # At loc = 0, scale = 1 the loss is -ELBO; d(-ELBO)/d loc_i = 2 loc_i - x_i = -x_i.
    # A particle's pathwise gradient is 2 z_i - x_i: sd 2 per particle, so the mean of
    # 20 steps x 200 particles has sd 2 / sqrt(4000) = 0.032 per element; tolerance 0.2
    # is 6.3 sd (false-alarm rate below 1e-8 for the 5 elements together).
    elbo = JitTrace_ELBO(num_particles=200, vectorize_particles=True, max_plate_nesting=1)
    for n in (3, 5):
        ppl.clear_param_store()  # parameters of the new shape
        x = torch.linspace(-1.0, 1.0, n)
        grad = _mean_grad(elbo, x, steps=21)
        assert torch.allclose(grad, -x, atol=0.2), (grad, -x)
    assert elbo.compiled.fullgraph and not elbo.compiled.failed
    assert elbo.compiled.compiles == 2  # one graph per shape; the warm-ups are eager
    assert elbo.compiled.warmups == 2  # and no compiled estimate was discarded


def _coin_model(x):
    with ppl.plate("data", x.shape[0]):
        z = ppl.sample("z", Bernoulli(0.3))
        ppl.sample("x", Normal(2.0 * z - 1.0, 1.0), obs=x)


def _coin_guide(x):
    logit = ppl.param("logit", torch.zeros(x.shape[0]))
    with ppl.plate("data", x.shape[0]):
        ppl.sample(
            "z", Bernoulli(logits=logit), infer={"baseline": {"use_decaying_avg_baseline": True}}
        )


def _exact_coin_grad(x, logit):
    # -ELBO by enumerating z in {0, 1} per element: the oracle the estimate must match.
    logit = logit.clone().requires_grad_()
    q1 = torch.sigmoid(logit)
    loss = 0.0
    for z, qz, pz in ((1.0, q1, 0.3), (0.0, 1 - q1, 0.7)):
        log_lik = Normal(2.0 * z - 1.0, 1.0).log_prob(x)
        loss = loss - (qz * (math.log(pz) + log_lik - torch.log(qz))).sum()
    (grad,) = torch.autograd.grad(loss, logit)
    return grad


@pytest.mark.slow
def test_compiled_tracegraph_with_baseline_matches_exact_enumeration():
    x = torch.tensor([-1.5, 0.2, 1.8])
    elbo = JitTraceGraph_ELBO(num_particles=500, vectorize_particles=True, max_plate_nesting=1)
    store = ppl.get_param_store()
    total, steps = torch.zeros(3), 41
    for i in range(steps):
        elbo.loss_and_grads(_coin_model, _coin_guide, x)
        logit = store.get_unconstrained("logit")
        if i > 0:  # the compiled steps only (the first is the eager warm-up)
            total += logit.grad
        logit.grad = None
    grad = total / (steps - 1)
    # Score-function terms with a baseline: a particle's gradient is bounded by
    # |z - q| * |cost - b| < 6 here, so the mean of 40 x 500 = 20000 particles has
    # sd < 0.043; tolerance 0.25 is > 5.8 sd (false-alarm rate below 1e-8 per element).
    assert torch.allclose(grad, _exact_coin_grad(x, torch.zeros(3)), atol=0.25)
    assert elbo.compiled.fullgraph and not elbo.compiled.failed
    # One eager warm-up, one graph: every later estimate used the warm-up's credit table.
    assert elbo.compiled.warmups == 1 and elbo.compiled.compiles == 1


def _branchy_model(x):
    z = ppl.sample("z", Bernoulli(0.5))
    loc = 1.0 if z.item() > 0 else -1.0  # a Python branch on a value: no single graph
    ppl.sample("x", Normal(loc, 1.0), obs=x)


def _branchy_guide(x):
    ppl.sample("z", Bernoulli(logits=ppl.param("logit", torch.tensor(0.0))))


@pytest.mark.slow
def test_a_value_branch_falls_back_with_one_warning():
    x = torch.tensor(0.5)
    svi = SVI(_branchy_model, _branchy_guide, Adam({"lr": 0.01}), JitTraceGraph_ELBO())
    with pytest.warns(ConservativeGraphWarning):
        svi.step(x)  # the eager warm-up sees the value leave torch
    with pytest.warns(CompileFallbackWarning, match="does not compile as one graph") as seen:
        svi.step(x)
        svi.step(x)
    assert len([w for w in seen if w.category is CompileFallbackWarning]) == 1
    assert svi.loss.svi_steps.failed  # eager from now on


def test_tracegraph_refuses_compiling_in_pieces():
    with pytest.raises(ValueError, match=r"compile_pieces=True\): the data-flow graph"):
        JitTraceGraph_ELBO(compile_pieces=True)


def _binary(x):
    p = ppl.sample("p", Normal(0.0, 1.0))
    with ppl.plate("data", x.shape[0]):
        ppl.sample("x", Bernoulli(logits=p), obs=x)


def _binary_guide(x):
    ppl.sample("p", Normal(ppl.param("p_loc", torch.tensor(0.0)), 1.0))


@pytest.mark.slow
def test_invalid_data_in_a_compiled_loss_raises_the_eager_error():
    good, bad = torch.tensor([0.0, 1.0, 1.0]), torch.tensor([0.0, 0.5, 1.0])
    with pytest.raises(ValueError) as eager_error:
        Trace_ELBO().loss_and_grads(_binary, _binary_guide, bad)
    elbo = JitTrace_ELBO()
    for _ in range(2):  # the warm-up, then the compiled estimate
        elbo.loss_and_grads(_binary, _binary_guide, good)
    assert elbo.compiled.compiles == 1
    with pytest.raises(ValueError) as compiled_error:
        elbo.loss_and_grads(_binary, _binary_guide, bad)
    assert str(compiled_error.value) == str(eager_error.value)
    assert elbo.compiled.compiles == 1 and not elbo.compiled.failed  # flagged, not recompiled
