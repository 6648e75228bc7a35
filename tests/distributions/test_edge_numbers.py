"""Numbers at the edges: probabilities of exactly 0 or 1, huge logits, exact cdf steps, sizes.

Each expectation is a closed form (the derivative of the log-likelihood written
out by hand), torch.distributions where it is exact, or the small-size answer.
"""

import math
import warnings

import pytest
import scipy.stats as st
import torch
import torch.distributions as td
import torch.distributions.utils as tdu
from scipy.integrate import quad

from distributions import (
    Bernoulli,
    Beta,
    Binomial,
    Categorical,
    ContinuousBernoulli,
    Dirichlet,
    Distribution,
    ExponentialFamily,
    Gamma,
    Geometric,
    InverseGamma,
    LogisticNormal,
    Multinomial,
    MultivariateNormal,
    NegativeBinomial,
    Normal,
    OneHotCategorical,
    Poisson,
    RelaxedOneHotCategorical,
    TransformedDistribution,
    kl_divergence,
)
from distributions.transforms import AffineTransform
from distributions.utils import broadcast_shape, safe_xlogy, tril_matrix_to_vec, vec_to_tril_matrix


def grad_of(make, p, value):
    p = torch.tensor(p, dtype=torch.float64, requires_grad=True)
    lp = make(p).log_prob(torch.as_tensor(value, dtype=torch.float64))
    (g,) = torch.autograd.grad(lp.sum(), p)
    return lp.detach(), g


# (family, parameter, value, log_prob, d log_prob / d parameter), by hand.
EDGE_CASES = [
    ("Bernoulli p=0, x=0", lambda p: Bernoulli(probs=p), 0.0, 0.0, 0.0, -1.0),
    ("Bernoulli p=1, x=1", lambda p: Bernoulli(probs=p), 1.0, 1.0, 0.0, 1.0),
    ("Binomial p=0, x=0", lambda p: Binomial(5, probs=p), 0.0, 0.0, 0.0, -5.0),
    ("Binomial p=1, x=n", lambda p: Binomial(5, probs=p), 1.0, 5.0, 0.0, 5.0),
    ("Geometric p=1, x=0", lambda p: Geometric(probs=p), 1.0, 0.0, 0.0, 1.0),
    ("NegativeBinomial p=0, x=0", lambda p: NegativeBinomial(3.0, probs=p), 0.0, 0.0, 0.0, -3.0),
    ("Poisson rate=0, x=0", lambda p: Poisson(p), 0.0, 0.0, 0.0, -1.0),
]


@pytest.mark.parametrize(
    "name, make, p, value, lp, grad", EDGE_CASES, ids=[c[0] for c in EDGE_CASES]
)
def test_certain_outcomes_have_finite_exact_gradients(name, make, p, value, lp, grad):
    got_lp, got_grad = grad_of(make, p, value)
    assert got_lp.item() == lp
    assert got_grad.item() == grad


def test_multinomial_zero_probability_category_has_finite_gradient():
    probs = torch.tensor([0.0, 0.25, 0.75], dtype=torch.float64, requires_grad=True)
    lp = Multinomial(4, probs=probs).log_prob(torch.tensor([0.0, 1.0, 3.0], dtype=torch.float64))
    (g,) = torch.autograd.grad(lp, probs)
    # probs are normalized by their sum S = 1: d/dp_i sum_j x_j log(p_j / S) = x_i / p_i - n,
    # with x_i / p_i read as 0 for the zero category (x_0 = 0).
    assert torch.equal(g, torch.tensor([-4.0, 0.0, 0.0], dtype=torch.float64))


def test_impossible_outcomes_still_score_minus_infinity():
    assert Bernoulli(probs=torch.tensor(0.0)).log_prob(torch.tensor(1.0)).item() == -math.inf
    assert Binomial(3, probs=torch.tensor(1.0)).log_prob(torch.tensor(2.0)).item() == -math.inf


def test_safe_xlogy_value_and_gradient():
    x = torch.tensor([0.0, 0.0, 2.0, 0.0])
    y = torch.tensor([0.0, 0.5, 0.0, math.nan], requires_grad=True)
    out = safe_xlogy(x, y)
    assert out[:3].tolist() == [0.0, 0.0, -math.inf] and torch.isnan(out[3])
    (g,) = torch.autograd.grad(out[:2].sum(), y)
    assert g[:2].tolist() == [0.0, 0.0]


@pytest.mark.parametrize("logit", [1e38, -1e38, 1e30])
def test_continuous_bernoulli_huge_logits(logit):
    x = torch.tensor(logit, requires_grad=True)
    d = ContinuousBernoulli(logits=x)
    # For t = |eta| >> 1: entropy 1 - log t, mean 1 - 1/t (or 1/t), variance 1 / t^2.
    stats = {"entropy": d.entropy(), "mean": d.mean, "variance": d.variance}
    assert stats["entropy"].item() == pytest.approx(1 - math.log(abs(logit)), rel=1e-6)
    assert stats["mean"].item() == pytest.approx(1.0 if logit > 0 else 1 / -logit, rel=1e-6)
    for name, value in stats.items():
        (g,) = torch.autograd.grad(value, x, retain_graph=True)
        assert torch.isfinite(g), name
    lp = d.log_prob(torch.tensor(0.3))
    (g,) = torch.autograd.grad(lp, x)
    # d/deta (eta x - A(eta)) = x - mean.
    assert g.item() == pytest.approx(0.3 - stats["mean"].item(), abs=1e-6)


@pytest.mark.parametrize("logit", [-8.0, -3.0, 0.7, 5.0])
def test_continuous_bernoulli_statistics_match_torch(logit):
    # float64 and moderate logits: torch (which goes through probs) is exact to 1e-9 here.
    eta = torch.tensor(logit, dtype=torch.float64)
    ours, theirs = ContinuousBernoulli(logits=eta), td.ContinuousBernoulli(logits=eta)
    for name in ("mean", "variance"):
        torch.testing.assert_close(getattr(ours, name), getattr(theirs, name), rtol=1e-9, atol=0)
    torch.testing.assert_close(ours.entropy(), theirs.entropy(), rtol=1e-9, atol=1e-12)


def test_geometric_infinite_logits():
    d = Geometric(logits=torch.tensor(math.inf))
    assert d.log_prob(torch.tensor([0.0, 1.0])).tolist() == [0.0, -math.inf]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_geometric_icdf_inverts_cdf_at_exact_steps(dtype):
    d = Geometric(torch.tensor([0.3, 0.01, 0.9, 0.5, 1e-4], dtype=dtype).unsqueeze(-1))
    k = torch.arange(3000.0, dtype=dtype)
    c = d.cdf(k)
    # Where the rounded cdf still rises, k is the smallest count reaching cdf(k).
    rises = torch.cat([torch.ones_like(c[:, :1], dtype=torch.bool), c[:, 1:] > c[:, :-1]], 1)
    rises &= c < 1
    assert torch.equal(d.icdf(c)[rises], k.expand_as(c)[rises])
    d = Geometric(torch.tensor(0.3, dtype=dtype))
    k = torch.tensor([0.0, 1.0, 2.0, 5.0], dtype=dtype)
    assert d.icdf(d.cdf(k)).tolist() == k.tolist()  # was [0, 2, 2, 6]


def test_transformed_distribution_batch_widens_with_transform_parameters():
    transform = AffineTransform(torch.zeros(5), 1.0)
    ours = TransformedDistribution(Normal(0.0, 1.0), [transform])
    theirs = td.TransformedDistribution(
        td.Normal(0.0, 1.0), [td.AffineTransform(torch.zeros(5), 1.0)]
    )
    assert ours.batch_shape == theirs.batch_shape == (5,)
    x = ours.sample((7,))
    assert x.shape == (7, 5)
    # Independent draws along the widened dim, and log_prob of the base law.
    assert len(set(x[0].tolist())) == 5
    torch.testing.assert_close(ours.log_prob(x), Normal(0.0, 1.0).log_prob(x))


@pytest.mark.parametrize("n", [3, 2000])
def test_gamma_log_prob_answers_alike_at_every_size(n):
    d = Gamma(torch.full((n,), 2.0), 1.0, validate_args=False)
    assert torch.isnan(d.log_prob(-torch.ones(n))).all()
    unit = Gamma(torch.ones(n), 1.0, validate_args=False)
    assert torch.equal(unit.log_prob(torch.zeros(n)), torch.zeros(n))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_beta_draws_at_small_concentration_stay_inside_and_in_proportion(dtype):
    torch.manual_seed(0)
    a = torch.tensor(0.01, dtype=dtype, requires_grad=True)
    d = Beta(a, torch.tensor(0.01, dtype=dtype))
    x = d.rsample((20000,))
    assert not ((x == 0) | (x == 1)).any()
    assert torch.isfinite(d.log_prob(x.detach())).all()
    (g,) = torch.autograd.grad(x.sum(), a)
    assert torch.isfinite(g)
    # Log-space accuracy: the share of draws below t matches I_t(a, b) far into the
    # tail (below float32's tiny for t = 1e-40 the clamp holds them at tiny). Five
    # binomial standard deviations: a false alarm about once in 1.7 million runs.
    for t in (1e-30, 1e-10, 0.5):
        share = (x.detach().double() < t).double().mean().item()
        want = st.beta(0.01, 0.01).cdf(t)
        assert abs(share - want) < 5 * math.sqrt(want * (1 - want) / 20000)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dirichlet_draws_at_small_concentration_stay_inside(dtype):
    torch.manual_seed(0)
    d = Dirichlet(torch.full((3,), 0.01, dtype=dtype))
    x = d.sample((20000,))
    assert not ((x == 0) | (x == 1)).any()
    assert torch.isfinite(d.log_prob(x)).all()
    assert (x.sum(-1) - 1).abs().max() <= 4 * torch.finfo(dtype).eps


def test_integer_parameters_are_promoted_to_the_default_float_dtype():
    assert Poisson(torch.tensor([1, 2])).entropy().dtype == torch.get_default_dtype()
    torch.testing.assert_close(
        Poisson(torch.tensor([1, 2])).entropy(), Poisson(torch.tensor([1.0, 2.0])).entropy()
    )
    c = Categorical(probs=torch.tensor([1, 3]))
    assert c.probs.tolist() == [0.25, 0.75] and torch.isnan(c.mean)  # as torch: no mean
    mvn = MultivariateNormal(torch.tensor([0, 0]), torch.tensor([[1, 0], [0, 1]]))
    assert mvn.sample().dtype == torch.get_default_dtype()
    tril = MultivariateNormal(torch.tensor([0, 0]), scale_tril=torch.eye(2, dtype=torch.bool))
    assert tril.log_prob(torch.zeros(2)).item() == pytest.approx(-math.log(2 * math.pi))


def test_one_hot_categorical_checks_the_event_size_without_validation():
    d = OneHotCategorical(probs=torch.tensor([0.5, 0.5]), validate_args=False)
    with pytest.raises(ValueError, match=r"value of shape \(3,\) does not end in the event shape"):
        d.log_prob(torch.tensor([1.0, 0.0, 0.0]))


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_tril_round_trips_for_every_diagonal_torch_accepts(n):
    for diag in range(-n, n):
        mat = torch.randn(2, n, n)
        vec = tril_matrix_to_vec(mat, diag)
        assert torch.equal(vec, tdu.tril_matrix_to_vec(mat, diag))
        assert torch.equal(vec_to_tril_matrix(vec, diag), tdu.vec_to_tril_matrix(vec, diag))


def test_vec_to_tril_matrix_rejects_a_count_of_no_matrix():
    with pytest.raises(ValueError, match=r"last dim 4 is not the number of entries on or below"):
        vec_to_tril_matrix(torch.zeros(4))


def test_beta_and_dirichlet_exponential_family_hooks_agree_with_their_entropy():
    beta = Beta(torch.tensor([0.5, 3.0, 0.01]), torch.tensor([0.2, 5.0, 2.0]))
    torch.testing.assert_close(
        ExponentialFamily.entropy(beta), beta.entropy(), rtol=1e-5, atol=1e-5
    )
    dirichlet = Dirichlet(torch.tensor([[0.5, 3.0, 0.01], [1.0, 2.0, 3.0]]))
    got = ExponentialFamily.entropy(dirichlet)
    torch.testing.assert_close(got, dirichlet.entropy(), rtol=1e-5, atol=1e-5)


def test_kl_inverse_gamma_matches_numerical_integration():
    p, q = InverseGamma(torch.tensor(2.0), torch.tensor(1.0)), InverseGamma(3.0, 2.0)
    fp, fq = st.invgamma(2.0, scale=1.0), st.invgamma(3.0, scale=2.0)
    want, _ = quad(lambda x: fp.pdf(x) * (fp.logpdf(x) - fq.logpdf(x)), 0, math.inf)
    assert kl_divergence(p, q).item() == pytest.approx(want, rel=1e-5)


def test_kl_binomial_with_different_counts():
    p = Binomial(torch.tensor([31.0, 30.0, 30.0]), torch.tensor([0.3, 0.3, 0.2]))
    q = Binomial(torch.tensor([30.0, 30.0, 31.0]), torch.tensor(0.4))
    got = kl_divergence(p, q)
    assert got[0].item() == math.inf  # p puts mass on k = 31, where q has none
    k = torch.arange(31.0)
    lp = st.binom(30, 0.2).logpmf(k.numpy())
    want = (
        torch.from_numpy(lp).exp() * (torch.from_numpy(lp - st.binom(31, 0.4).logpmf(k.numpy())))
    ).sum()
    assert got[2].item() == pytest.approx(want.item(), rel=1e-5)
    assert got[1].item() == pytest.approx(
        kl_divergence(Binomial(30, 0.3), Binomial(30, 0.4)).item()
    )


def test_a_subclass_that_declares_nothing_warns_as_torch_does():
    class Bare(Distribution):
        def log_prob(self, value):
            return -value

    with pytest.warns(UserWarning, match=r"Bare does not define `arg_constraints`"):
        with pytest.warns(UserWarning, match=r"Bare does not define `support`"):
            Bare(validate_args=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Bare(validate_args=False)


def test_zero_size_batches_score_their_own_draws():
    # sum_rightmost reshaped to (..., -1), which is ambiguous when a batch dim is 0.
    d = LogisticNormal(torch.zeros(0, 3), torch.ones(0, 3))
    assert d.log_prob(d.sample((2,))).shape == (2, 0)
    r = RelaxedOneHotCategorical(torch.tensor(1.0), probs=torch.ones(0, 3) / 3)
    assert r.log_prob(r.sample((2,))).shape == (2, 0)


def test_broadcast_shape_matches_torch_without_importing_sympy():
    for shapes in [((3, 1), (4,), ()), ((0,), (1,)), ((2, 0), (0,)), ((5,), (1, 5))]:
        assert broadcast_shape(*shapes) == torch.broadcast_shapes(*shapes)
    with pytest.raises(RuntimeError, match=r"shapes \[\(2,\), \(3,\)\] do not broadcast"):
        broadcast_shape((2,), (3,))
