"""ContinuousBernoulli: quadrature, sampler, numerical edges, errors and its KL pairs."""

import math

import pytest
import scipy.integrate
import scipy.stats
import torch

import distributions as dist
from distributions.exp_family import ExponentialFamily

# Near 1/2 (inside torch's lims, and around our series cut-offs), mid-range, and the tails.
PROBS = [1e-4, 0.2, 0.4995, 0.5, 0.5005, 0.53, 0.6, 0.99]


def _density(d):
    return lambda x: math.exp(d.log_prob(torch.tensor(x, dtype=torch.float64)).item())


def _quad(f):
    return scipy.integrate.quad(f, 0.0, 1.0, epsabs=1e-13, epsrel=1e-12)[0]


@pytest.mark.parametrize("p", PROBS)
def test_moments_entropy_and_cdf_match_quadrature(p):
    d = dist.ContinuousBernoulli(probs=torch.tensor(p, dtype=torch.float64))
    pdf = _density(d)
    mean = _quad(lambda x: x * pdf(x))
    assert _quad(pdf) == pytest.approx(1.0, abs=1e-10)
    assert d.mean.item() == pytest.approx(mean, abs=1e-10)
    assert d.variance.item() == pytest.approx(_quad(lambda x: (x - mean) ** 2 * pdf(x)), abs=1e-10)
    entropy = _quad(lambda x: -pdf(x) * math.log(pdf(x)))
    assert d.entropy().item() == pytest.approx(entropy, abs=1e-10)
    for x in (0.1, 0.5, 0.9):
        cdf = scipy.integrate.quad(pdf, 0.0, x, epsabs=1e-13, epsrel=1e-12)[0]
        assert d.cdf(torch.tensor(x, dtype=torch.float64)).item() == pytest.approx(cdf, abs=1e-10)


@pytest.mark.parametrize("p", PROBS)
def test_icdf_inverts_cdf(p):
    d = dist.ContinuousBernoulli(probs=torch.tensor(p, dtype=torch.float64))
    u = torch.linspace(0.0, 1.0, 11, dtype=torch.float64)
    torch.testing.assert_close(d.cdf(d.icdf(u)), u, atol=1e-12, rtol=0)


@pytest.mark.parametrize("p", [0.03, 0.4995, 0.5005, 0.8])
def test_sampler_kolmogorov_smirnov_against_our_cdf(p):
    # 4000 draws; a correct sampler fails this KS test with probability 1e-4, and
    # the seed is fixed, so the outcome is repeatable.
    torch.manual_seed(0)
    d = dist.ContinuousBernoulli(probs=torch.tensor(p, dtype=torch.float64))
    x = d.sample((4000,)).numpy()

    def cdf(v):
        return d.cdf(torch.as_tensor(v, dtype=torch.float64)).numpy()

    assert scipy.stats.kstest(x, cdf).pvalue > 1e-4


@pytest.mark.parametrize("p", [1e-6, 1 - 1e-6])
def test_float32_near_zero_and_one_is_finite_and_matches_float64(p):
    # Compare with float64 at the float32-rounded probs: 1 - 1e-6 is not exact in
    # float32, and the statistics are that sensitive to the rounding itself.
    p32 = torch.tensor(p, dtype=torch.float32)
    d32 = dist.ContinuousBernoulli(probs=p32)
    d64 = dist.ContinuousBernoulli(probs=p32.double())
    x = torch.tensor([0.0, 1e-3, 0.3, 0.999, 1.0])
    u = torch.tensor([0.0, 0.01, 0.5, 0.99])
    for name, a, b in [
        ("log_prob", d32.log_prob(x), d64.log_prob(x.double())),
        ("mean", d32.mean, d64.mean),
        ("variance", d32.variance, d64.variance),
        ("entropy", d32.entropy(), d64.entropy()),
        ("cdf", d32.cdf(x), d64.cdf(x.double())),
        ("icdf", d32.icdf(u), d64.icdf(u.double())),
    ]:
        assert torch.isfinite(a).all(), name
        torch.testing.assert_close(a.double(), b, rtol=1e-4, atol=1e-4, msg=name)


def test_large_logits_stay_finite_without_overflow():
    d = dist.ContinuousBernoulli(logits=torch.tensor([-800.0, -100.0, 100.0, 800.0]))
    x, u = torch.full((4,), 0.5), torch.full((4,), 0.5)
    for value in (d.mean, d.variance, d.entropy(), d.log_prob(x), d.cdf(x), d.icdf(u)):
        assert torch.isfinite(value).all()
    torch.testing.assert_close(d.mean, torch.tensor([1 / 800, 1 / 100, 0.99, 1 - 1 / 800]))


def test_probs_one_half_is_uniform_with_the_right_gradient():
    probs = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    d = dist.ContinuousBernoulli(probs=probs)
    u = torch.tensor([0.2, 0.7], dtype=torch.float64)
    torch.testing.assert_close(d.icdf(u), u)
    assert d.log_prob(u).abs().max().item() == 0.0
    # d mean / d probs = Var / (p (1 - p)) = (1/12) / (1/4) at p = 1/2; torch's uniform
    # shortcut inside lims gives rsample a zero gradient there.
    (grad,) = torch.autograd.grad(d.mean, probs)
    assert grad.item() == pytest.approx(1 / 3, abs=1e-12)
    (grad,) = torch.autograd.grad(d.icdf(torch.tensor(0.2, dtype=torch.float64)), probs)
    assert grad.item() == pytest.approx(4 * 0.2 * 0.8 / 2, abs=1e-12)


def test_mode_is_the_endpoint_the_density_leans_to():
    d = dist.ContinuousBernoulli(probs=torch.tensor([0.2, 0.5, 0.9]))
    assert d.mode[0].item() == 0.0 and math.isnan(d.mode[1].item()) and d.mode[2].item() == 1.0


def test_exponential_family_machinery_agrees_with_closed_forms():
    p = dist.ContinuousBernoulli(probs=torch.tensor([0.1, 0.4996, 0.5, 0.7], dtype=torch.float64))
    q = dist.ContinuousBernoulli(logits=torch.tensor([0.3, -2.0, 1e-3, 0.0], dtype=torch.float64))
    torch.testing.assert_close(ExponentialFamily.entropy(p), p.entropy())
    from distributions.kl_pairs.structural import _kl_exponential_family

    torch.testing.assert_close(_kl_exponential_family(p, q), dist.kl_divergence(p, q))


def test_expand_keeps_parameters_and_lims():
    d = dist.ContinuousBernoulli(probs=torch.tensor([0.2, 0.9]), lims=(0.4, 0.6))
    big = d.expand((3, 2))
    assert big.batch_shape == (3, 2) and big._lims == (0.4, 0.6)
    torch.testing.assert_close(big.mean, d.mean.expand(3, 2))


def test_two_gradients_through_one_instance_after_logits_are_cached():
    probs = torch.tensor([0.2, 0.7], requires_grad=True)
    d = dist.ContinuousBernoulli(probs=probs)
    assert d.logits.requires_grad  # cached, with its own graph
    big = d.expand((3, 2))
    torch.autograd.grad(big.rsample().sum(), probs)
    torch.autograd.grad(big.mean.sum(), probs)


def test_rsample_batches_under_vmap():
    logits = torch.tensor([-1.0, 0.5, 2.0])

    def draw(eta):
        return dist.ContinuousBernoulli(logits=eta, validate_args=False).rsample()

    x = torch.vmap(draw, randomness="different")(logits)
    assert x.shape == (3,) and bool(((x >= 0) & (x <= 1)).all())


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="exactly one of probs or logits"):
        dist.ContinuousBernoulli()
    with pytest.raises(ValueError, match="exactly one of probs or logits"):
        dist.ContinuousBernoulli(probs=0.5, logits=0.0)
    with pytest.raises(ValueError, match=r"'lims' must satisfy 0 < low < 0.5 < high < 1"):
        dist.ContinuousBernoulli(probs=0.3, lims=(0.6, 0.7))
    with pytest.raises(ValueError, match="'lims' must be a pair of floats"):
        dist.ContinuousBernoulli(probs=0.3, lims=0.5)
    # probs are checked as given, before the clamping that keeps 0 and 1 finite.
    with pytest.raises(ValueError, match=r"argument 'probs'.*value 1.5 at index \(1,\)"):
        dist.ContinuousBernoulli(probs=torch.tensor([0.5, 1.5]))
    with pytest.raises(ValueError, match="support"):
        dist.ContinuousBernoulli(probs=0.3).log_prob(torch.tensor(1.2))


# ----------------------------------------------------------------- KL pairs
def _f(*rows):
    return torch.tensor(rows, dtype=torch.float64)


def _kl_pairs():
    cb_p = ("ContinuousBernoulli", {"probs": _f([0.2], [0.4995], [0.9])})
    cb_q = ("ContinuousBernoulli", {"logits": _f(0.3, -1.5)})
    # Uniform bounds stay off 0 and 1, where torch's +inf is wrong (tested below).
    return [
        (cb_p, cb_q),
        (cb_p, ("Exponential", {"rate": _f(0.5, 2.0)})),
        (cb_p, ("Normal", {"loc": _f(0.3, -1.0), "scale": _f(0.5, 2.0)})),
        (cb_p, ("Uniform", {"low": _f(-0.5, -1.0, 0.2, -0.1), "high": _f(1.5, 0.9, 2.0, 3.0)})),
        (cb_p, ("Pareto", {"scale": _f(0.5, 2.0), "alpha": _f(1.0, 3.0)})),
        (("Beta", {"concentration1": _f([1.0], [2.0]), "concentration0": _f([2.0], [0.5])}), cb_q),
        (("Uniform", {"low": _f([0.1], [-0.2], [0.3]), "high": _f([0.9], [0.5], [1.5])}), cb_q),
        (("Exponential", {"rate": _f([1.0], [2.0])}), cb_q),
        (("Gamma", {"concentration": _f([1.0], [2.0]), "rate": _f([2.0], [0.5])}), cb_q),
        (("Gumbel", {"loc": _f([0.0], [1.0]), "scale": _f([1.0], [2.0])}), cb_q),
        (("Laplace", {"loc": _f([0.0], [1.0]), "scale": _f([1.0], [2.0])}), cb_q),
        (("Normal", {"loc": _f([0.0], [1.0]), "scale": _f([1.0], [2.0])}), cb_q),
        (("Pareto", {"scale": _f([0.5], [2.0]), "alpha": _f([1.0], [3.0])}), cb_q),
    ]


@pytest.mark.parametrize(
    "p_spec, q_spec", _kl_pairs(), ids=lambda s: s[0] if isinstance(s, tuple) else ""
)
def test_kl_pairs_match_torch_with_broadcasting(p_spec, q_spec):
    import torch.distributions as tdist

    (p_name, p_args), (q_name, q_args) = p_spec, q_spec
    ours = dist.kl_divergence(getattr(dist, p_name)(**p_args), getattr(dist, q_name)(**q_args))
    ref = tdist.kl_divergence(getattr(tdist, p_name)(**p_args), getattr(tdist, q_name)(**q_args))
    p_shape, q_shape = (next(iter(a.values())).shape for a in (p_args, q_args))
    assert ours.shape == torch.broadcast_shapes(p_shape, q_shape)
    # torch's +inf pairs return p's batch shape only; compare on the broadcast shape.
    torch.testing.assert_close(ours, ref.expand(ours.shape))


def test_kl_with_uniform_touching_zero_and_one_is_finite():
    # torch answers +inf for both directions here, but the supports nest; the exact
    # values are -H(p) and A(eta) - eta / 2 for Uniform(0, 1), checked by quadrature.
    p = dist.ContinuousBernoulli(probs=torch.tensor(0.8, dtype=torch.float64))
    u = dist.Uniform(torch.tensor(0.0, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64))
    pdf = _density(p)
    assert dist.kl_divergence(p, u).item() == pytest.approx(
        _quad(lambda x: pdf(x) * math.log(pdf(x))), abs=1e-10
    )
    assert dist.kl_divergence(u, p).item() == pytest.approx(
        _quad(lambda x: -math.log(pdf(x))), abs=1e-10
    )


def test_kl_pairs_match_monte_carlo():
    # 200k draws put each estimate's standard error near 2e-3 at most, so the 0.02
    # tolerance is about nine standard errors (false-alarm rate below 1e-6); seed fixed.
    torch.manual_seed(0)
    p = dist.ContinuousBernoulli(probs=torch.tensor([0.1, 0.5, 0.85], dtype=torch.float64))
    x = p.sample((200_000,))
    for q in (
        dist.ContinuousBernoulli(logits=torch.tensor([1.0, -2.0, 0.0], dtype=torch.float64)),
        dist.Normal(torch.tensor(0.3, dtype=torch.float64), torch.tensor(0.4, dtype=torch.float64)),
    ):
        mc = (p.log_prob(x) - q.log_prob(x)).mean(0)
        torch.testing.assert_close(dist.kl_divergence(p, q), mc, atol=0.02, rtol=0)
    beta = dist.Beta(torch.tensor(2.0, dtype=torch.float64), torch.tensor(3.0, dtype=torch.float64))
    y = beta.sample((200_000,))
    y = y.unsqueeze(-1)
    mc = (beta.log_prob(y) - p.log_prob(y)).mean(0)
    torch.testing.assert_close(dist.kl_divergence(beta, p), mc, atol=0.02, rtol=0)
