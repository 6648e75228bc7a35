"""ELBO estimators against exact values and exactly enumerated gradients.

Every estimator is checked for unbiasedness: the mean of R independent
estimates (each the average of P vectorized particles) must lie within 4.5
standard errors of the exact gradient, per component. Under a correct
estimator that happens with probability about 1 - 7e-6 per component, and
the seeds are fixed, so the tests are repeatable.
"""

import pytest
import torch

import distributions as dist
import ppl
from inference import Trace_ELBO, TraceGraph_ELBO, TraceMeanField_ELBO

X = torch.tensor([0.5, 2.5, 1.0], dtype=torch.float64)
PRIOR = 0.3


class NonReparamNormal(dist.Normal):
    """A Normal without rsample: forces the score-function path on a continuous site."""

    has_rsample = False

    def sample(self, sample_shape=torch.Size()):
        with torch.no_grad():
            return dist.Normal.rsample(self, sample_shape)

    def rsample(self, sample_shape=torch.Size()):
        raise NotImplementedError("stand-in without a reparameterized sampler")


def _estimate(elbo_cls, model, guide, param_names, repeats=24, particles=400, **kwargs):
    elbo = elbo_cls(num_particles=particles, vectorize_particles=True, **kwargs)
    grads = []
    store = ppl.get_param_store()
    for _ in range(repeats):
        leaves = [store.get_unconstrained(n) for n in param_names] if len(store) else []
        for leaf in leaves:
            leaf.grad = None
        elbo.loss_and_grads(model, guide)
        leaves = [store.get_unconstrained(n) for n in param_names]
        grads.append(torch.cat([leaf.grad.flatten() for leaf in leaves]))
    grads = torch.stack(grads)
    return grads.mean(0), grads.std(0) / repeats**0.5


def _assert_unbiased(mean, se, exact):
    assert ((mean - exact).abs() <= 4.5 * se + 1e-9).all(), f"mean {mean}, exact {exact}, se {se}"


# --------------------------------------------------- discrete, vectorized plate
def plate_model():
    with ppl.plate("p", 3):
        z = ppl.sample("z", dist.Bernoulli(torch.tensor(PRIOR, dtype=torch.float64)))
        ppl.sample("x", dist.Normal(2 * z, 1.0), obs=X)


def make_plate_guide(baseline=None):
    def guide():
        logits = ppl.param("l", torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64))
        infer = {"baseline": baseline(logits)} if baseline else {}
        with ppl.plate("p", 3):
            ppl.sample("z", dist.Bernoulli(logits=logits), infer=infer)

    return guide


def exact_plate():
    logits = ppl.get_param_store().get_unconstrained("l")
    q1 = torch.sigmoid(logits)
    elbo = 0.0
    for z in (0.0, 1.0):
        qz = q1 if z else 1 - q1
        zt = torch.tensor(z, dtype=torch.float64)
        lp = dist.Bernoulli(torch.tensor(PRIOR, dtype=torch.float64)).log_prob(zt)
        lp = lp + dist.Normal(2 * zt, 1.0).log_prob(X)
        elbo = elbo + qz * (lp - qz.log())
    (grad,) = torch.autograd.grad(-elbo.sum(), logits)
    return -elbo.sum().item(), grad


BASELINES = {
    "none": None,
    "decaying_avg": lambda logits: {"use_decaying_avg_baseline": True, "baseline_beta": 0.8},
    "value": lambda logits: {"baseline_value": torch.full((3,), -4.0, dtype=torch.float64)},
    "nn": lambda logits: {
        "nn_baseline": _NN,
        "nn_baseline_input": torch.ones(3, 1, dtype=torch.float64),
    },
    "loo": lambda logits: {"loo": True},
}
_NN = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.Flatten(0)).double()


@pytest.mark.parametrize("baseline", sorted(BASELINES))
@pytest.mark.parametrize("elbo_cls", [Trace_ELBO, TraceGraph_ELBO])
def test_plate_gradient_is_unbiased(elbo_cls, baseline):
    torch.manual_seed(0)
    guide = make_plate_guide(BASELINES[baseline])
    guide()
    _, exact = exact_plate()
    mean, se = _estimate(elbo_cls, plate_model, guide, ["l"])
    _assert_unbiased(mean, se, exact)


# ------------------------------------------------------- sequential plate
def seq_model():
    for i in ppl.plate("s", 3):
        z = ppl.sample(f"z_{i}", dist.Bernoulli(torch.tensor(PRIOR, dtype=torch.float64)))
        ppl.sample(f"x_{i}", dist.Normal(2 * z, 1.0), obs=X[i])


def make_seq_guide(baseline=None):
    def guide():
        logits = ppl.param("l", torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64))
        for i in ppl.plate("s", 3):
            infer = {"baseline": baseline(logits)} if baseline else {}
            ppl.sample(f"z_{i}", dist.Bernoulli(logits=logits[i]), infer=infer)

    return guide


@pytest.mark.parametrize("baseline", ["none", "decaying_avg", "loo"])
@pytest.mark.parametrize("elbo_cls", [Trace_ELBO, TraceGraph_ELBO])
def test_sequential_plate_gradient_is_unbiased(elbo_cls, baseline):
    torch.manual_seed(1)
    guide = make_seq_guide(BASELINES[baseline])
    guide()
    _, exact = exact_plate()  # the same joint law as the vectorized plate
    mean, se = _estimate(elbo_cls, seq_model, guide, ["l"])
    _assert_unbiased(mean, se, exact)


# ------------------------------- independent sites outside plates, continuous
def free_model():
    a = ppl.sample("a", dist.Normal(torch.tensor(0.0, dtype=torch.float64), 1.0))
    b = ppl.sample("b", dist.Bernoulli(torch.tensor(PRIOR, dtype=torch.float64)))
    ppl.sample("xa", dist.Normal(a, 1.0), obs=X[0])
    ppl.sample("xb", dist.Normal(2 * b, 1.0), obs=X[1])


def make_free_guide(baseline=None):
    def guide():
        m = ppl.param("m", torch.tensor(0.2, dtype=torch.float64))
        logit = ppl.param("l", torch.tensor(-0.3, dtype=torch.float64))
        infer = {"baseline": baseline(logit)} if baseline else {}
        ppl.sample("a", NonReparamNormal(m, 1.0), infer=infer)
        ppl.sample("b", dist.Bernoulli(logits=logit), infer=infer)

    return guide


def exact_free():
    store = ppl.get_param_store()
    m, logit = store.get_unconstrained("m"), store.get_unconstrained("l")
    # E_q[log N(a;0,1) + log N(x0;a,1)] - E_q[log q] for q = N(m, 1), in closed form.
    elbo_a = -(m**2 + 1) / 2 - ((X[0] - m) ** 2 + 1) / 2 + 0.5  # constants cancel in the gradient
    q1 = torch.sigmoid(logit)
    elbo_b = 0.0
    for z in (0.0, 1.0):
        qz = q1 if z else 1 - q1
        zt = torch.tensor(z, dtype=torch.float64)
        lp = dist.Bernoulli(torch.tensor(PRIOR, dtype=torch.float64)).log_prob(zt)
        elbo_b = elbo_b + qz * (lp + dist.Normal(2 * zt, 1.0).log_prob(X[1]) - qz.log())
    return torch.stack(torch.autograd.grad(-(elbo_a + elbo_b), [m, logit]))


@pytest.mark.parametrize("baseline", ["none", "decaying_avg", "loo"])
@pytest.mark.parametrize("elbo_cls", [Trace_ELBO, TraceGraph_ELBO])
def test_independent_sites_gradient_is_unbiased(elbo_cls, baseline):
    torch.manual_seed(2)
    guide = make_free_guide(BASELINES[baseline])
    guide()
    exact = exact_free()
    mean, se = _estimate(elbo_cls, free_model, guide, ["m", "l"])
    _assert_unbiased(mean, se, exact)


def test_tracegraph_has_lower_variance_where_the_graph_shows_independence():
    # a and b sit outside any plate, so Trace_ELBO credits a's score with b's
    # cost too; the graph shows b's cost does not depend on a.
    torch.manual_seed(3)
    guide = make_free_guide()
    guide()
    variances = {}
    for elbo_cls in (Trace_ELBO, TraceGraph_ELBO):
        elbo = elbo_cls()
        store = ppl.get_param_store()
        grads = []
        for _ in range(600):
            leaf = store.get_unconstrained("m")
            leaf.grad = None
            elbo.loss_and_grads(free_model, guide)
            grads.append(store.get_unconstrained("m").grad.item())
        variances[elbo_cls.__name__] = torch.tensor(grads).var().item()
    assert variances["TraceGraph_ELBO"] < 0.8 * variances["Trace_ELBO"], variances


# ------------------------------------------------------ values in closed form
def test_normal_normal_elbo_value():
    x = torch.tensor(1.3, dtype=torch.float64)

    def model():
        z = ppl.sample("z", dist.Normal(torch.tensor(0.0, dtype=torch.float64), 1.0))
        ppl.sample("x", dist.Normal(z, 1.0), obs=x)

    m, s = 0.4, 0.7

    def guide():
        ppl.sample("z", dist.Normal(torch.tensor(m, dtype=torch.float64), s))

    log2pi = torch.log(torch.tensor(2 * torch.pi, dtype=torch.float64))
    exact = (
        -log2pi
        - 0.5 * (m**2 + s**2)
        - 0.5 * ((x - m) ** 2 + s**2)
        + 0.5 * (log2pi + 1)
        + torch.log(torch.tensor(s))
    ).item()
    torch.manual_seed(4)
    # 20000 particles: the Monte Carlo standard error is about 0.006.
    loss = Trace_ELBO(num_particles=20000, vectorize_particles=True).loss(model, guide)
    assert abs(-loss - exact) < 0.03
    mf = TraceMeanField_ELBO(num_particles=20000, vectorize_particles=True).loss(model, guide)
    assert abs(-mf - exact) < 0.03


def test_beta_bernoulli_elbo_value():
    data = torch.tensor([1.0, 0.0, 1.0, 1.0], dtype=torch.float64)
    a, b = 3.0, 2.0

    def model():
        p = ppl.sample("p", dist.Beta(torch.tensor(2.0, dtype=torch.float64), 2.0))
        with ppl.plate("data", 4):
            ppl.sample("x", dist.Bernoulli(p), obs=data)

    def guide():
        ppl.sample("p", dist.Beta(torch.tensor(a, dtype=torch.float64), b))

    q = torch.distributions.Beta(torch.tensor(a, dtype=torch.float64), b)
    e_log_p = torch.digamma(torch.tensor(a)) - torch.digamma(torch.tensor(a + b))
    e_log_1mp = torch.digamma(torch.tensor(b)) - torch.digamma(torch.tensor(a + b))
    # E_q log Beta(p; 2, 2) = E log p + E log(1 - p) - log B(2, 2).
    e_prior = (1 * e_log_p + 1 * e_log_1mp) - (
        torch.lgamma(torch.tensor(2.0)) * 2 - torch.lgamma(torch.tensor(4.0))
    )
    exact = (e_prior + data.sum() * e_log_p + (4 - data.sum()) * e_log_1mp + q.entropy()).item()
    torch.manual_seed(5)
    loss = Trace_ELBO(num_particles=20000, vectorize_particles=True).loss(model, guide)
    assert abs(-loss - exact) < 0.03


# ------------------------------------------------------------------ errors
def test_model_guide_mismatch_errors():
    def model():
        ppl.sample("z", dist.Normal(0.0, 1.0))
        ppl.sample("w", dist.Normal(0.0, 1.0))

    def guide_missing():
        ppl.sample("z", dist.Normal(0.0, 1.0))

    def guide_extra():
        ppl.sample("z", dist.Normal(0.0, 1.0))
        ppl.sample("w", dist.Normal(0.0, 1.0))
        ppl.sample("extra", dist.Normal(0.0, 1.0))

    def guide_obs():
        ppl.sample("z", dist.Normal(0.0, 1.0), obs=torch.tensor(0.0))
        ppl.sample("w", dist.Normal(0.0, 1.0))

    with pytest.raises(
        ValueError, match=r"model latent site\(s\) \['w'\] are not sampled by the guide"
    ):
        Trace_ELBO().loss(model, guide_missing)
    with pytest.raises(ValueError, match="guide site 'extra' does not exist in the model"):
        Trace_ELBO().loss(model, guide_extra)
    with pytest.raises((ValueError, RuntimeError), match="'z'"):
        Trace_ELBO().loss(model, guide_obs)


@pytest.mark.parametrize("validate", [True, False])
def test_one_estimator_checks_a_changed_pair_again(validate):
    # The structure checks are remembered per estimator for a pair that
    # passed; a pair that differs (another site, a site turned observed, a
    # model node the guide matched now gone) must be checked, not remembered.
    state = {"extra": False, "observed": False, "param": True}

    def model():
        if state["param"]:
            ppl.param("w", torch.tensor(0.0))
        ppl.sample("z", dist.Normal(0.0, 1.0))

    def guide():
        obs = torch.tensor(0.0) if state["observed"] else None
        ppl.sample("z", dist.Normal(0.0, 1.0), obs=obs)
        if state["extra"]:
            ppl.sample("w", dist.Normal(0.0, 1.0))

    elbo = Trace_ELBO()
    with ppl.validation_enabled(validate):
        elbo.loss(model, guide)
        state["extra"] = True  # matched by the model's param 'w'
        elbo.loss(model, guide)
        state["param"] = False
        with pytest.raises(ValueError, match="guide site 'w' does not exist in the model"):
            elbo.loss(model, guide)
        state.update(extra=False, observed=True)
        with pytest.raises((ValueError, RuntimeError), match="'z'"):
            elbo.loss(model, guide)


def test_loo_baseline_needs_vectorized_particles():
    guide = make_plate_guide(BASELINES["loo"])
    with pytest.raises(
        ValueError, match="leave-one-out baseline .* needs vectorize_particles=True"
    ):
        Trace_ELBO().loss_and_grads(plate_model, guide)


def test_unknown_baseline_option_is_named():
    guide = make_plate_guide(lambda logits: {"use_decaying_average": True})
    with pytest.raises(
        ValueError, match=r"site 'z': unknown baseline option\(s\) \['use_decaying_average'\]"
    ):
        Trace_ELBO().loss_and_grads(plate_model, guide)
