"""TraceEnum_ELBO against brute-force sums over every joint value of the discrete latents.

Every oracle here enumerates the joint assignments with ``itertools.product``
and scores them with the distributions directly, so it shares no code with
the variable elimination under test. Comparisons are to float32 precision.
"""

import itertools

import pytest
import torch

import ppl
from distributions import Bernoulli, Categorical, Normal
from inference.enum import TraceEnum_ELBO
from ppl.handlers import config_enumerate, markov, substitute

PAR = {"enumerate": "parallel"}
X3 = torch.tensor([0.3, -1.0, 2.0])


def _no_guide(*args, **kwargs):
    return None


def _logsumexp(terms):
    return torch.logsumexp(torch.stack(terms), 0)


def _elbo(model, guide, nesting, **kwargs):
    return -TraceEnum_ELBO(max_plate_nesting=nesting, **kwargs).differentiable_loss(model, guide)


# ----------------------------------------------------------- model enumeration
def test_gaussian_mixture_marginal_likelihood_and_gradient():
    data = torch.tensor([-2.0, -1.5, 0.1, 1.9, 2.5])

    def model():
        locs = ppl.param("locs", torch.tensor([-1.0, 1.0]))
        weights = ppl.param("weights", torch.tensor([0.4, 0.6]))
        with ppl.plate("data", len(data)):
            z = ppl.sample("z", Categorical(weights), infer=PAR)
            ppl.sample("x", Normal(locs[z], 1.0), obs=data)

    elbo = _elbo(model, _no_guide, 1)
    locs = ppl.get_param_store()["locs"]
    (grad,) = torch.autograd.grad(elbo, [locs])
    locs_ = locs.detach().requires_grad_()
    log_w = torch.tensor([0.4, 0.6]).log()
    exact = sum(
        _logsumexp([log_w[k] + Normal(locs_[k], 1.0).log_prob(x) for k in range(2)]) for x in data
    )
    (exact_grad,) = torch.autograd.grad(exact, [locs_])
    assert torch.allclose(elbo, exact, atol=1e-5)
    assert torch.allclose(grad, exact_grad, atol=1e-5)


def _switches_model():
    a = ppl.sample("a", Bernoulli(0.3), infer=PAR)
    with ppl.plate("data", 3):
        b = ppl.sample("b", Bernoulli(0.2 + 0.6 * a), infer=PAR)
        ppl.sample("x", Normal(a + 2 * b, 1.0), obs=X3)


def _switches_exact():
    terms = []
    for a, *b in itertools.product([0.0, 1.0], repeat=4):
        a, b = torch.tensor(a), torch.tensor(b)
        terms.append(
            Bernoulli(0.3).log_prob(a)
            + Bernoulli(0.2 + 0.6 * a).log_prob(b).sum()
            + Normal(a + 2 * b, 1.0).log_prob(X3).sum()
        )
    return _logsumexp(terms)


def test_discrete_switches_in_a_plate():
    assert torch.allclose(_elbo(_switches_model, _no_guide, 1), _switches_exact(), atol=1e-5)


def test_more_plate_nesting_than_needed_gives_the_same_value():
    assert torch.allclose(_elbo(_switches_model, _no_guide, 3), _switches_exact(), atol=1e-5)


def test_nested_plates_with_a_variable_at_each_level():
    data = torch.tensor([[0.5, -0.2, 1.0], [2.0, 1.5, -1.0]])

    def model():
        with ppl.plate("outer", 2, dim=-2):
            c = ppl.sample("c", Bernoulli(0.4), infer=PAR)
            with ppl.plate("inner", 3, dim=-1):
                d = ppl.sample("d", Bernoulli(0.3 + 0.4 * c), infer=PAR)
                ppl.sample("x", Normal(c - d, 1.0), obs=data)

    terms = []
    for combo in itertools.product([0.0, 1.0], repeat=8):
        c = torch.tensor(combo[:2]).unsqueeze(-1)
        d = torch.tensor(combo[2:]).reshape(2, 3)
        terms.append(
            Bernoulli(0.4).log_prob(c).sum()
            + Bernoulli(0.3 + 0.4 * c).log_prob(d).sum()
            + Normal(c - d, 1.0).log_prob(data).sum()
        )
    assert torch.allclose(_elbo(model, _no_guide, 2), _logsumexp(terms), atol=1e-5)


def test_subsampled_plate_scales_after_the_sum():
    def model():
        with ppl.plate("data", 6, subsample=torch.tensor([0, 2, 4])):
            z = ppl.sample("z", Bernoulli(0.3), infer=PAR)
            ppl.sample("x", Normal(2.0 * z, 1.0), obs=X3)

    per_point = [
        _logsumexp(
            [
                Bernoulli(0.3).log_prob(torch.tensor(z)) + Normal(2.0 * z, 1.0).log_prob(x)
                for z in (0.0, 1.0)
            ]
        )
        for x in X3
    ]
    assert torch.allclose(_elbo(model, _no_guide, 1), 2.0 * sum(per_point), atol=1e-5)


def test_config_enumerate_marks_the_model():
    def model():
        a = ppl.sample("a", Bernoulli(0.3))
        with ppl.plate("data", 3):
            b = ppl.sample("b", Bernoulli(0.2 + 0.6 * a))
            ppl.sample("x", Normal(a + 2 * b, 1.0), obs=X3)

    elbo = _elbo(config_enumerate(model), _no_guide, 1)
    assert torch.allclose(elbo, _switches_exact(), atol=1e-5)


# ----------------------------------------------------------- guide enumeration
def _guide_enum_pair(strategy="parallel"):
    def model():
        with ppl.plate("data", 3):
            z = ppl.sample("z", Bernoulli(0.3))
            ppl.sample("x", Normal(2.0 * z, 1.0), obs=X3)

    def guide():
        q = ppl.param("q", torch.tensor([0.2, 0.5, 0.9]))
        with ppl.plate("data", 3):
            ppl.sample("z", Bernoulli(q), infer={"enumerate": strategy})

    return model, guide


def test_guide_enumeration_in_a_plate_is_the_exact_expectation():
    model, guide = _guide_enum_pair()
    elbo = _elbo(model, guide, 1)
    q = ppl.get_param_store()["q"]
    exact = 0.0
    for z in (0.0, 1.0):
        z = torch.tensor(z)
        log_q = Bernoulli(q).log_prob(z)
        log_p = Bernoulli(0.3).log_prob(z) + Normal(2.0 * z, 1.0).log_prob(X3)
        exact = exact + (log_q.exp() * (log_p - log_q)).sum()
    assert torch.allclose(elbo, exact, atol=1e-5)
    (g1,) = torch.autograd.grad(elbo, [q])
    (g2,) = torch.autograd.grad(exact, [q])
    assert torch.allclose(g1, g2, atol=1e-5)


def test_global_guide_enumeration_with_local_model_enumeration():
    def model():
        a = ppl.sample("a", Bernoulli(0.3))
        with ppl.plate("data", 3):
            b = ppl.sample("b", Bernoulli(0.2 + 0.6 * a), infer=PAR)
            ppl.sample("x", Normal(a + 2 * b, 1.0), obs=X3)

    def guide():
        qa = ppl.param("qa", torch.tensor(0.6))
        ppl.sample("a", Bernoulli(qa), infer=PAR)

    elbo = _elbo(model, guide, 1)
    qa = ppl.get_param_store()["qa"]
    exact = 0.0
    for a in (0.0, 1.0):
        a = torch.tensor(a)
        inner = (
            torch.stack(
                [
                    Bernoulli(0.2 + 0.6 * a).log_prob(torch.tensor(b))
                    + Normal(a + 2 * b, 1.0).log_prob(X3)
                    for b in (0.0, 1.0)
                ]
            )
            .logsumexp(0)
            .sum()
        )
        log_q = Bernoulli(qa).log_prob(a)
        exact = exact + log_q.exp() * (Bernoulli(0.3).log_prob(a) + inner - log_q)
    assert torch.allclose(elbo, exact, atol=1e-5)


def test_dependent_guide_enumeration_uses_marginals():
    def model():
        a = ppl.sample("a", Bernoulli(0.5))
        b = ppl.sample("b", Bernoulli(0.25 + 0.5 * a))
        ppl.sample("x", Normal(a + b, 1.0), obs=torch.tensor(1.2))

    def guide():
        ppl.sample("a", Bernoulli(0.7), infer=PAR)
        ppl.sample("b", Categorical(torch.tensor([[0.9, 0.1], [0.4, 0.6]])), infer=PAR)

    exact = 0.0
    for a, b in itertools.product([0.0, 1.0], repeat=2):
        a, b = torch.tensor(a), torch.tensor(b)
        log_q = Bernoulli(0.7).log_prob(a) + Categorical(
            torch.tensor([[0.9, 0.1], [0.4, 0.6]])[a.long()]
        ).log_prob(b)
        log_p = (
            Bernoulli(0.5).log_prob(a)
            + Bernoulli(0.25 + 0.5 * a).log_prob(b)
            + Normal(a + b, 1.0).log_prob(torch.tensor(1.2))
        )
        exact = exact + log_q.exp() * (log_p - log_q)
    assert torch.allclose(_elbo(model, guide, 0), exact, atol=1e-5)


def test_sequential_guide_enumeration_equals_parallel():
    def model():
        a = ppl.sample("a", Bernoulli(0.3))
        ppl.sample("x", Normal(2.0 * a, 1.0), obs=torch.tensor(0.7))

    def guide(strategy):
        def run():
            q = ppl.param("qs", torch.tensor(0.35))
            ppl.sample("a", Bernoulli(q), infer={"enumerate": strategy})

        return run

    seq = _elbo(model, guide("sequential"), 0)
    par = _elbo(model, guide("parallel"), 0)
    assert torch.allclose(seq, par, atol=1e-6)
    q = ppl.get_param_store()["qs"]
    assert torch.allclose(torch.autograd.grad(seq, [q])[0], torch.autograd.grad(par, [q])[0])


# ------------------------------------------------------------------ variance
def test_fully_enumerated_gradient_does_not_depend_on_the_seed():
    model, guide = _guide_enum_pair()
    grads = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        elbo = _elbo(model, guide, 1)
        grads.append(torch.autograd.grad(elbo, [ppl.get_param_store()["q"]])[0])
    assert torch.equal(grads[0], grads[1])


def test_vectorized_particles_match_one_particle_when_all_is_enumerated():
    one = _elbo(_switches_model, _no_guide, 1)
    many = _elbo(_switches_model, _no_guide, 1, num_particles=4, vectorize_particles=True)
    assert torch.allclose(one, many, atol=1e-5)


# ------------------------------------------------- mixed: sampled + enumerated
def _mixed_pair():
    def model():
        a = ppl.sample("a", Bernoulli(0.4))
        with ppl.plate("data", 3):
            b = ppl.sample("b", Bernoulli(0.3), infer=PAR)
            ppl.sample("x", Normal(a + 2 * b, 1.0), obs=X3)

    def guide():
        theta = ppl.param("theta", torch.tensor(0.2))
        ppl.sample("a", Bernoulli(torch.sigmoid(theta)))

    return model, guide


def _mixed_exact(theta):
    total = 0.0
    for a in (0.0, 1.0):
        a = torch.tensor(a)
        log_q = Bernoulli(torch.sigmoid(theta)).log_prob(a)
        inner = (
            torch.stack(
                [
                    Bernoulli(0.3).log_prob(torch.tensor(b)) + Normal(a + 2 * b, 1.0).log_prob(X3)
                    for b in (0.0, 1.0)
                ]
            )
            .logsumexp(0)
            .sum()
        )
        total = total + log_q.exp() * (Bernoulli(0.4).log_prob(a) + inner - log_q)
    return total


def test_score_function_site_beside_enumeration_is_unbiased_exactly():
    # The sampled site is binary, so the estimator's mean is a two-term sum: each
    # branch's gradient (value fixed by substitute) weighted by its probability.
    model, guide = _mixed_pair()
    _elbo(model, guide, 1)
    theta = ppl.get_param_store()["theta"]
    mean = 0.0
    for a in (0.0, 1.0):
        fixed = substitute(guide, data={"a": torch.tensor(a)})
        (grad,) = torch.autograd.grad(_elbo(model, fixed, 1), [theta])
        prob = torch.sigmoid(theta) if a else 1 - torch.sigmoid(theta)
        mean = mean + prob.detach() * grad
    theta_ = theta.detach().requires_grad_()
    (exact,) = torch.autograd.grad(_mixed_exact(theta_), [theta_])
    assert torch.allclose(mean, exact, atol=1e-5)


def test_reparameterized_site_beside_enumeration_gets_pathwise_gradient():
    def model():
        loc = ppl.sample("loc", Normal(0.0, 1.0))
        with ppl.plate("data", 3):
            z = ppl.sample("z", Bernoulli(0.5), infer=PAR)
            ppl.sample("x", Normal(loc + z, 1.0), obs=X3)

    def guide():
        m = ppl.param("m", torch.tensor(0.1))
        ppl.sample("loc", Normal(m, 1e-3))

    elbo = _elbo(model, guide, 1)
    m = ppl.get_param_store()["m"]
    (grad,) = torch.autograd.grad(elbo, [m])
    # With a near-point-mass guide, the ELBO's gradient in m is d/dm log p(x, loc=m).
    m_ = m.detach().requires_grad_()
    log_p = Normal(0.0, 1.0).log_prob(m_) + sum(
        _logsumexp([torch.tensor(0.5).log() + Normal(m_ + z, 1.0).log_prob(x) for z in (0.0, 1.0)])
        for x in X3
    )
    (exact,) = torch.autograd.grad(log_p, [m_])
    assert torch.allclose(grad, exact, atol=1e-2)


# -------------------------------------------------------------------- errors
def test_crossing_plates_are_refused_with_the_sites_named():
    def model():
        with ppl.plate("rows", 2, dim=-2):
            r = ppl.sample("r", Bernoulli(0.5), infer=PAR)
        with ppl.plate("cols", 3, dim=-1):
            c = ppl.sample("c", Bernoulli(0.5), infer=PAR)
        with ppl.plate("rows", 2, dim=-2), ppl.plate("cols", 3, dim=-1):
            ppl.sample("x", Normal(r + c, 1.0), obs=torch.zeros(2, 3))

    with pytest.raises(
        ValueError, match=r"cannot sum out the enumerated site\(s\) 'c'.*do not nest"
    ):
        _elbo(model, _no_guide, 2)


def test_guide_enumeration_more_local_than_model_enumeration_is_refused():
    def model():
        a = ppl.sample("a", Bernoulli(0.5), infer=PAR)
        with ppl.plate("data", 3):
            b = ppl.sample("b", Bernoulli(0.5))
            ppl.sample("x", Normal(a + b, 1.0), obs=X3)

    def guide():
        with ppl.plate("data", 3):
            ppl.sample("b", Bernoulli(0.5), infer=PAR)

    with pytest.raises(ValueError, match="guide-enumerated site.*'b'.*more local"):
        _elbo(model, guide, 1)


def test_too_small_max_plate_nesting_is_named():
    with pytest.raises(
        ValueError, match=r"(?s)site 'b'.*dims \[-1\].*max_plate_nesting \(at least 1\)"
    ):
        _elbo(_switches_model, _no_guide, 0)


def test_a_batch_dim_without_a_plate_is_named():
    def model():
        z = ppl.sample("z", Bernoulli(0.5), infer=PAR)
        ppl.sample("x", Normal(z + torch.zeros(2), 1.0), obs=torch.zeros(2))

    with pytest.raises(
        ValueError, match="model site 'x'.*size 2 at dim -1, which is neither a plate"
    ):
        _elbo(model, _no_guide, 1)


def test_sequential_enumeration_in_the_model_is_refused():
    def model():
        ppl.sample("a", Bernoulli(0.5), infer={"enumerate": "sequential"})

    with pytest.raises(ValueError, match="model site 'a' is marked for sequential"):
        _elbo(model, _no_guide, 0)


def test_sequential_enumeration_of_a_batch_is_refused():
    model, guide = _guide_enum_pair("sequential")
    with pytest.raises(ValueError, match=r"guide site 'z': sequential enumeration .* \(3,\)"):
        _elbo(model, guide, 1)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="max_plate_nesting must be a non-negative int"):
        TraceEnum_ELBO(max_plate_nesting=-1)
    with pytest.raises(ValueError, match="num_particles must be an int >= 1"):
        TraceEnum_ELBO(num_particles=0)


def test_local_score_function_sites_are_credited_per_plate_element_without_bias():
    # Sampled b_i (score function) and model-enumerated c_i in one plate: the credit
    # of b_i is its own element's cost. Exact mean over the four joint draws of b.
    def model():
        with ppl.plate("data", 2):
            b = ppl.sample("b", Bernoulli(0.4))
            c = ppl.sample("c", Bernoulli(0.3), infer=PAR)
            ppl.sample("x", Normal(b + 2 * c, 1.0), obs=X3[:2])

    def guide():
        theta = ppl.param("theta2", torch.tensor([0.2, -0.3]))
        with ppl.plate("data", 2):
            ppl.sample("b", Bernoulli(torch.sigmoid(theta)))

    _elbo(model, guide, 1)
    theta = ppl.get_param_store()["theta2"]
    q = torch.sigmoid(theta).detach()
    mean = 0.0
    for combo in itertools.product([0.0, 1.0], repeat=2):
        b = torch.tensor(combo)
        (grad,) = torch.autograd.grad(_elbo(model, substitute(guide, data={"b": b}), 1), [theta])
        mean = mean + torch.where(b > 0, q, 1 - q).prod() * grad

    theta_ = theta.detach().requires_grad_()
    exact = 0.0
    for b in (0.0, 1.0):
        b = torch.tensor(b)
        log_q = Bernoulli(torch.sigmoid(theta_)).log_prob(b)
        inner = torch.stack(
            [
                Bernoulli(0.3).log_prob(torch.tensor(c)) + Normal(b + 2 * c, 1.0).log_prob(X3[:2])
                for c in (0.0, 1.0)
            ]
        ).logsumexp(0)
        exact = exact + (log_q.exp() * (Bernoulli(0.4).log_prob(b) + inner - log_q)).sum()
    (expected,) = torch.autograd.grad(exact, [theta_])
    assert torch.allclose(mean, expected, atol=1e-5)


def test_vectorized_particles_with_a_score_function_site_are_unbiased():
    model, guide = _mixed_pair()
    elbo = TraceEnum_ELBO(max_plate_nesting=1, num_particles=2, vectorize_particles=True)
    elbo.loss(model, guide)
    theta = ppl.get_param_store()["theta"]
    q = torch.sigmoid(theta).detach()
    mean = 0.0
    for combo in itertools.product([0.0, 1.0], repeat=2):
        a = torch.tensor(combo).reshape(2, 1)  # the particle plate is at dim -2
        fixed = substitute(guide, data={"a": a})
        (grad,) = torch.autograd.grad(-elbo.differentiable_loss(model, fixed), [theta])
        mean = mean + torch.where(a > 0, q, 1 - q).prod() * grad
    theta_ = theta.detach().requires_grad_()
    (exact,) = torch.autograd.grad(_mixed_exact(theta_), [theta_])
    assert torch.allclose(mean, exact, atol=1e-5)


def test_guide_recycled_dims_seen_together_by_the_model_are_refused():
    def model():
        a = ppl.sample("a", Bernoulli(0.5))
        b = ppl.sample("b", Bernoulli(0.5))
        ppl.sample("c", Bernoulli(0.5))
        ppl.sample("x", Normal(a + b, 1.0), obs=torch.tensor(0.0))

    def guide():
        for name in markov(["a", "b", "c"], history=0):
            ppl.sample(name, Bernoulli(0.5), infer=PAR)

    with pytest.raises(
        ValueError, match="sites 'a' and 'b' are both in view but share dim -1 \\(recycled"
    ):
        _elbo(model, guide, 0)


def test_an_unenumerated_discrete_model_site_without_guide_site_suggests_enumeration():
    def model():
        ppl.sample("k", Bernoulli(0.5))

    with pytest.raises(ValueError, match=r"(?s)'k'.*config_enumerate"):
        _elbo(model, _no_guide, 0)


def test_score_sites_in_a_subsampled_plate_are_unbiased_for_the_scaled_bound():
    # A global model-enumerated w ties the subsampled elements together: b_i's credit
    # is the global term plus its own element's terms, each scaled like the bound.
    subsample = torch.tensor([0, 2])
    data = torch.tensor([0.4, -0.7, 1.5, 0.2])[subsample]

    def model():
        w = ppl.sample("w", Bernoulli(0.4), infer=PAR)
        with ppl.plate("data", 4, subsample=subsample):
            b = ppl.sample("b", Bernoulli(0.3))
            ppl.sample("x", Normal(w + b, 1.0), obs=data)

    def guide():
        theta = ppl.param("theta3", torch.tensor([0.3, -0.2]))
        with ppl.plate("data", 4, subsample=subsample):
            ppl.sample("b", Bernoulli(torch.sigmoid(theta)))

    _elbo(model, guide, 1)
    theta = ppl.get_param_store()["theta3"]
    q = torch.sigmoid(theta).detach()
    mean = 0.0
    for combo in itertools.product([0.0, 1.0], repeat=2):
        b = torch.tensor(combo)
        (grad,) = torch.autograd.grad(_elbo(model, substitute(guide, data={"b": b}), 1), [theta])
        mean = mean + torch.where(b > 0, q, 1 - q).prod() * grad

    theta_ = theta.detach().requires_grad_()
    q_ = torch.sigmoid(theta_)
    exact = 0.0
    for combo in itertools.product([0.0, 1.0], repeat=2):
        b = torch.tensor(combo)
        log_q = Bernoulli(q_).log_prob(b)
        marginal = torch.stack(
            [
                Bernoulli(0.4).log_prob(torch.tensor(w))
                + 2.0 * Normal(w + b, 1.0).log_prob(data).sum()
                for w in (0.0, 1.0)
            ]
        ).logsumexp(0)
        local = 2.0 * (Bernoulli(0.3).log_prob(b) - log_q).sum()
        exact = exact + log_q.sum().exp() * (marginal + local)
    (expected,) = torch.autograd.grad(exact, [theta_])
    assert torch.allclose(mean, expected, atol=1e-5)


def test_a_masked_guide_site_still_weights_by_its_probabilities():
    def model():
        with ppl.plate("data", 2):
            z = ppl.sample("z", Bernoulli(0.3))
            ppl.sample("x", Normal(2.0 * z, 1.0), obs=X3[:2])

    def guide():
        with ppl.plate("data", 2), ppl.handlers.mask(mask=torch.tensor([True, False])):
            ppl.sample("z", Bernoulli(torch.tensor([0.2, 0.9])), infer=PAR)

    exact = 0.0
    for z in (0.0, 1.0):
        z = torch.tensor(z)
        q = Bernoulli(torch.tensor([0.2, 0.9])).log_prob(z).exp()
        log_p = Bernoulli(0.3).log_prob(z) + Normal(2.0 * z, 1.0).log_prob(X3[:2])
        exact = exact + (q * (log_p - q.log() * torch.tensor([1.0, 0.0]))).sum()
    assert torch.allclose(_elbo(model, guide, 1), exact, atol=1e-5)
