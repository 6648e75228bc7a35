"""SVI steps, the non-finite guard, optimizers and their state."""

import math

import pytest
import torch

import distributions as dist
import ppl
from distributions import constraints
from inference import (
    SVI,
    JitTrace_ELBO,
    NonFiniteLossError,
    NonFiniteStepWarning,
    Trace_ELBO,
    optim,
)

DATA = torch.tensor([2.1, 1.7, 2.6, 2.2, 1.9])


def model(data):
    mu = ppl.sample("mu", dist.Normal(0.0, 10.0))
    with ppl.plate("data", len(data)):
        ppl.sample("obs", dist.Normal(mu, 1.0), obs=data)


def guide(data):
    m = ppl.param("m", torch.tensor(0.0))
    s = ppl.param("s", torch.tensor(1.0), constraint=constraints.positive)
    ppl.sample("mu", dist.Normal(m, s))


def test_svi_recovers_the_conjugate_posterior():
    torch.manual_seed(0)
    svi = SVI(
        model,
        guide,
        optim.Adam({"lr": 0.05}),
        Trace_ELBO(num_particles=8, vectorize_particles=True),
    )
    losses = svi.run(1500, DATA, progress=False)
    n = len(DATA)
    post_var = 1 / (1 / 100 + n)
    post_mean = post_var * DATA.sum()
    store = ppl.get_param_store()
    # Adam with lr 0.05 leaves a stationary noise of about 0.02 in m and s.
    assert abs(store["m"].item() - post_mean.item()) < 0.08
    assert abs(store["s"].item() - math.sqrt(post_var)) < 0.08
    assert sum(losses[-50:]) / 50 < sum(losses[:50]) / 50


def test_parameters_first_seen_mid_training_join_the_optimizer():
    state = {"extra": False}

    def growing_guide(data):
        guide(data)
        if state["extra"]:
            ppl.param("late", torch.tensor(5.0))

    def growing_model(data):
        model(data)
        if state["extra"]:
            late = ppl.param("late", torch.tensor(5.0))
            ppl.factor("pull", -(late**2))

    adam = optim.Adam({"lr": 0.1})
    svi = SVI(growing_model, growing_guide, adam, Trace_ELBO())
    svi.step(DATA)
    state["extra"] = True
    for _ in range(5):
        svi.step(DATA)
    assert ppl.get_param_store()["late"].item() < 5.0
    # One torch optimizer holds every parameter, the late one included.
    assert sum(len(g["params"]) for g in adam.optimizer.param_groups) == 3


def nan_model(data):
    mu = ppl.sample("mu", dist.Normal(0.0, 10.0))
    with ppl.plate("data", len(data)):
        ppl.sample("obs", dist.Normal(mu, 1.0), obs=data)
    ppl.factor("broken", torch.tensor(float("-inf")) + 0 * mu)


def test_non_finite_step_changes_nothing_and_names_the_site():
    adam = optim.Adam({"lr": 0.1})
    svi = SVI(model, guide, adam, Trace_ELBO())
    svi.step(DATA)
    store = ppl.get_param_store()
    before = {k: v.detach().clone() for k, v in store.named_parameters()}
    state_before = {
        k: {n: t.clone() for n, t in v["state"].items() if torch.is_tensor(t)}
        for k, v in adam.state_dict().items()
    }
    bad = SVI(nan_model, guide, adam, Trace_ELBO())
    with pytest.raises(
        NonFiniteLossError, match=r"non-finite log-probs or values at sites \['broken'\]"
    ):
        bad.step(DATA)
    for k, v in store.named_parameters():
        assert torch.equal(v, before[k])
        assert v.grad is None
    for k, v in adam.state_dict().items():
        for n, t in state_before[k].items():
            assert torch.equal(v["state"][n], t)


def test_skip_nonfinite_warns_and_counts():
    svi = SVI(nan_model, guide, optim.Adam({"lr": 0.1}), Trace_ELBO(), skip_nonfinite=True)
    with pytest.warns(NonFiniteStepWarning, match="SVI step skipped"):
        svi.step(DATA)
    assert svi.num_skipped == 1


def test_evaluate_loss_does_not_touch_gradients():
    svi = SVI(model, guide, optim.SGD({"lr": 0.1}), Trace_ELBO())
    svi.step(DATA)
    before = ppl.get_param_store()["m"].item()
    assert isinstance(svi.evaluate_loss(DATA), float)
    assert ppl.get_param_store()["m"].item() == before


REFERENCE_OPTIMIZERS = {
    optim.Adam: torch.optim.Adam,
    optim.AdamW: torch.optim.AdamW,
    optim.SGD: torch.optim.SGD,
    optim.RMSprop: torch.optim.RMSprop,
    optim.Adagrad: torch.optim.Adagrad,
    optim.ClippedAdam: torch.optim.Adam,
}


@pytest.mark.parametrize(
    "factory, args",
    [
        (optim.Adam, {"lr": 0.01}),
        (optim.AdamW, {"lr": 0.01}),
        (optim.SGD, {"lr": 0.01}),
        (optim.RMSprop, {"lr": 0.01}),
        (optim.Adagrad, {"lr": 0.01}),
        (optim.ClippedAdam, {"lr": 0.01, "clip_norm": 1.0, "lrd": 0.999}),
    ],
)
def test_every_optimizer_takes_the_steps_of_its_torch_reference(factory, args):
    # A deterministic loss, so the updates can be compared exactly with the
    # torch optimizer run by hand on the same unconstrained parameters.
    class Quadratic:
        def loss_and_grads(self, model, guide, data):
            m = ppl.param("m", torch.tensor(0.0))
            s = ppl.param("s", torch.tensor(1.0), constraint=constraints.positive)
            loss = (m - 0.2) ** 2 + (s - 1.2) ** 2
            loss.backward()
            return loss.item()

    svi = SVI(model, guide, factory(args), Quadratic())
    for _ in range(3):
        svi.step(DATA)
    m, log_s = torch.zeros((), requires_grad=True), torch.zeros((), requires_grad=True)
    torch_args = {k: v for k, v in args.items() if k not in ("clip_norm", "lrd")}
    reference = REFERENCE_OPTIMIZERS[factory]([m, log_s], **torch_args)
    for step in range(3):
        # ClippedAdam is Adam whose rate is multiplied by lrd before every step
        # (the gradients here stay below clip_norm).
        for group in reference.param_groups:
            group["lr"] = args["lr"] * args.get("lrd", 1.0) ** (step + 1)
        reference.zero_grad()
        ((m - 0.2) ** 2 + (log_s.exp() - 1.2) ** 2).backward()
        reference.step()
    store = ppl.get_param_store()
    torch.testing.assert_close(store["m"], m.detach())
    torch.testing.assert_close(store["s"], log_s.exp().detach())
    assert abs(store["m"].item()) > 1e-3  # three steps moved it


def test_any_torch_optimizer_through_the_wrapper():
    opt = optim.Optimizer(torch.optim.Adamax, {"lr": 0.1})
    SVI(model, guide, opt, Trace_ELBO()).step(DATA)
    assert isinstance(opt.optimizer, torch.optim.Adamax)


def test_clipped_adam_clips_elementwise():
    p = torch.zeros(2, requires_grad=True)
    opt = optim.ClippedAdamOptimizer([p], lr=0.1, clip_norm=0.5)
    p.grad = torch.tensor([100.0, -0.1])
    opt.step()
    # Adam's first step moves each element by lr * sign(grad), whatever the clip.
    torch.testing.assert_close(p.detach(), torch.tensor([-0.1, 0.1]))
    with pytest.raises(ValueError, match="clip_norm must be positive"):
        optim.ClippedAdamOptimizer([p], clip_norm=0.0)


def test_learning_rate_scheduler_decays():
    sched = optim.ExponentialLR(
        {"optimizer": torch.optim.SGD, "optim_args": {"lr": 1.0}, "gamma": 0.5}
    )
    svi = SVI(model, guide, sched, Trace_ELBO())
    svi.step(DATA)
    sched.step_schedule()
    assert all(abs(lr - 0.5) < 1e-12 for lr in sched.get_lr().values())


def test_optimizer_state_saved_and_loaded_with_the_param_store(tmp_path):
    adam = optim.Adam({"lr": 0.1})
    svi = SVI(model, guide, adam, Trace_ELBO())
    for _ in range(3):
        svi.step(DATA)
    path = tmp_path / "params.pt"
    ppl.get_param_store().save(path, extra={"optim": adam.state_dict()})
    saved = adam.state_dict()
    ppl.clear_param_store()
    extra = ppl.get_param_store().load(path)
    fresh = optim.Adam({"lr": 0.1})
    fresh.load_state_dict(extra["optim"])
    SVI(model, guide, fresh, Trace_ELBO()).step(DATA)
    for name, entry in fresh.state_dict().items():
        assert entry["state"]["step"] == saved[name]["state"]["step"] + 1


def test_compiled_and_eager_elbos_agree():
    guide(DATA)
    for elbo_cls in (Trace_ELBO, JitTrace_ELBO):
        torch.manual_seed(7)
        values = [elbo_cls().loss(model, guide, DATA) for _ in range(3)]
        if elbo_cls is Trace_ELBO:
            eager = values
    assert eager == pytest.approx(values, rel=1e-6)


def test_finite_gradients_whose_sum_overflows_are_not_a_non_finite_step():
    # The one-pass check sums each gradient; two entries of 3e38 sum to inf in
    # float32, but every entry is finite, so the step must be taken.
    def loss(model, guide):
        p = ppl.param("p", torch.zeros(2))
        return (p * 3e38).sum()

    svi = SVI(lambda: None, lambda: None, optim.SGD({"lr": 1e-40}), loss)
    assert svi.step() == 0.0
    assert torch.all(ppl.get_param_store()["p"] < 0)


def test_finite_scalar_gradients_whose_total_overflows_are_not_a_non_finite_step():
    # Each scalar gradient is finite; their total (3e38 + 3e38) overflows float32.
    def loss(model, guide):
        a = ppl.param("a", torch.tensor(0.0))
        b = ppl.param("b", torch.tensor(0.0))
        return a * 3e38 + b * 3e38

    svi = SVI(lambda: None, lambda: None, optim.SGD({"lr": 1e-40}), loss)
    assert svi.step() == 0.0
    store = ppl.get_param_store()
    assert store["a"] < 0 and store["b"] < 0


def test_an_infinite_gradient_of_a_scalar_parameter_is_named():
    # sqrt at 0: a finite loss whose gradient is inf, in a 0-dim parameter.
    def loss(model, guide):
        a = ppl.param("a", torch.tensor(0.0))
        b = ppl.param("b", torch.ones(3))
        return a.sqrt() + b.sum()

    svi = SVI(lambda: None, lambda: None, optim.SGD({"lr": 0.1}), loss)
    with pytest.raises(NonFiniteLossError, match=r"non-finite gradients in params \['a'\]"):
        svi.step()
    assert torch.equal(ppl.get_param_store()["b"], torch.ones(3))
