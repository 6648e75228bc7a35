"""kl_divergence: registered pairs against torch, Monte Carlo, dispatch and errors."""

import warnings

import pytest
import torch
import torch.distributions as tdist

import distributions as dist


def _pairs():
    f = lambda *v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    return [
        ("Normal", (f(0.0, 1.0), f(1.0, 2.0)), "Normal", (f(0.5), f(1.5))),
        ("LogNormal", (f(0.0, 1.0), f(1.0, 2.0)), "LogNormal", (f(0.5), f(1.5))),
        ("HalfNormal", (f(1.0, 2.0),), "HalfNormal", (f(1.5),)),
        ("Laplace", (f(0.0, 1.0), f(1.0, 2.0)), "Laplace", (f(0.5), f(1.5))),
        ("Exponential", (f(1.0, 2.0),), "Exponential", (f(0.5),)),
        ("Exponential", (f(1.0, 2.0),), "Gamma", (f(2.0), f(1.5))),
        ("Gamma", (f(1.0, 2.0), f(2.0, 0.5)), "Gamma", (f(2.0), f(1.5))),
        ("Beta", (f(1.0, 2.0), f(2.0, 0.5)), "Beta", (f(2.0), f(1.5))),
        ("Dirichlet", (f(1.0, 2.0, 3.0),), "Dirichlet", (f(0.5, 1.0, 2.0),)),
        ("Uniform", (f(0.0, 0.2), f(1.0, 0.5)), "Uniform", (f(-1.0), f(2.0))),
        ("Uniform", (f(0.0, 0.2), f(1.0, 0.5)), "Normal", (f(0.3), f(2.0))),
        ("Cauchy", (f(0.0, 1.0), f(1.0, 2.0)), "Cauchy", (f(0.5), f(1.5))),
        ("Bernoulli", (f(0.2, 0.7),), "Bernoulli", (f(0.4, 0.4),)),  # torch cannot broadcast here
        ("Categorical", (f(0.2, 0.3, 0.5),), "Categorical", (f(0.6, 0.1, 0.3),)),
        ("Poisson", (f(1.0, 3.0),), "Poisson", (f(2.0),)),
        ("Bernoulli", (f(0.2, 0.7),), "Poisson", (f(2.0),)),
        ("Normal", (f(0.0), f(1.0)), "Beta", (f(2.0), f(1.5))),
        ("Gamma", (f(1.0), f(2.0)), "Uniform", (f(0.0), f(1.0))),
        ("Beta", (f(1.0, 2.0), f(2.0, 0.5)), "Normal", (f(0.3), f(2.0))),
        ("Exponential", (f(1.0, 2.0),), "Normal", (f(0.3), f(2.0))),
        ("Gamma", (f(1.0, 2.0), f(2.0, 0.5)), "Normal", (f(0.3), f(2.0))),
        ("Laplace", (f(0.0, 1.0), f(1.0, 2.0)), "Normal", (f(0.3), f(2.0))),
        ("Beta", (f(1.0, 2.0), f(2.0, 0.5)), "Exponential", (f(1.5),)),
        ("Gamma", (f(1.0, 2.0), f(2.0, 0.5)), "Exponential", (f(1.5),)),
        ("Uniform", (f(0.0, -0.5), f(1.0, 2.0)), "Exponential", (f(1.5),)),
        ("Beta", (f(1.0, 2.0), f(2.0, 0.5)), "Gamma", (f(2.0), f(1.5))),
        ("Uniform", (f(0.0, 0.5), f(1.0, 2.0)), "Gamma", (f(2.0), f(1.5))),
        ("Uniform", (f(0.0, 0.2), f(1.0, 0.5)), "Beta", (f(2.0), f(1.5))),
        ("Beta", (f(1.0, 2.0), f(2.0, 0.5)), "Uniform", (f(-0.5, 0.2), f(1.5, 1.0))),
    ]


@pytest.mark.parametrize(
    "p_name, p_args, q_name, q_args", _pairs(), ids=lambda x: x if isinstance(x, str) else ""
)
def test_registered_pairs_match_torch(p_name, p_args, q_name, q_args):
    ours = dist.kl_divergence(getattr(dist, p_name)(*p_args), getattr(dist, q_name)(*q_args))
    ref = tdist.kl_divergence(getattr(tdist, p_name)(*p_args), getattr(tdist, q_name)(*q_args))
    torch.testing.assert_close(ours, ref)


def test_independent_and_multivariate_normal_match_torch():
    loc, scale = torch.randn(2, 3), torch.rand(2, 3) + 0.5
    ours = dist.kl_divergence(
        dist.Normal(loc, scale).to_event(1), dist.Normal(0.0, torch.ones(3)).to_event(1)
    )
    ref = tdist.kl_divergence(
        tdist.Independent(tdist.Normal(loc, scale), 1),
        tdist.Independent(tdist.Normal(0.0, torch.ones(3)), 1),
    )
    torch.testing.assert_close(ours, ref)
    a = torch.randn(4, 3, 3)
    cov = a @ a.mT + torch.eye(3)
    loc = torch.randn(4, 3)
    ours = dist.kl_divergence(
        dist.MultivariateNormal(loc, cov), dist.MultivariateNormal(torch.zeros(3), torch.eye(3) * 2)
    )
    ref = tdist.kl_divergence(
        tdist.MultivariateNormal(loc, cov),
        tdist.MultivariateNormal(torch.zeros(3), torch.eye(3) * 2),
    )
    torch.testing.assert_close(ours, ref)


def test_low_rank_pairs_match_torch():
    loc, w, d = torch.randn(2, 3), torch.randn(2, 3, 2), torch.rand(2, 3) + 0.5
    cov = torch.eye(3) * 1.5
    for ours_pq, ref_pq in [
        (
            (
                dist.LowRankMultivariateNormal(loc, w, d),
                dist.MultivariateNormal(torch.zeros(3), cov),
            ),
            (
                tdist.LowRankMultivariateNormal(loc, w, d),
                tdist.MultivariateNormal(torch.zeros(3), cov),
            ),
        ),
        (
            (
                dist.MultivariateNormal(torch.zeros(3), cov),
                dist.LowRankMultivariateNormal(loc, w, d),
            ),
            (
                tdist.MultivariateNormal(torch.zeros(3), cov),
                tdist.LowRankMultivariateNormal(loc, w, d),
            ),
        ),
        (
            (
                dist.LowRankMultivariateNormal(loc, w, d),
                dist.LowRankMultivariateNormal(loc * 0, w, d),
            ),
            (
                tdist.LowRankMultivariateNormal(loc, w, d),
                tdist.LowRankMultivariateNormal(loc * 0, w, d),
            ),
        ),
    ]:
        torch.testing.assert_close(dist.kl_divergence(*ours_pq), tdist.kl_divergence(*ref_pq))


def test_normal_laplace_matches_monte_carlo():
    # torch has no (Normal, Laplace) pair; 400k draws give a standard error near 2e-3.
    torch.manual_seed(0)
    p = dist.Normal(
        torch.tensor([0.3, -1.0], dtype=torch.float64),
        torch.tensor([1.0, 0.5], dtype=torch.float64),
    )
    q = dist.Laplace(torch.tensor(0.0, dtype=torch.float64), torch.tensor(2.0, dtype=torch.float64))
    x = p.sample((400_000,))
    mc = (p.log_prob(x) - q.log_prob(x)).mean(0)
    torch.testing.assert_close(dist.kl_divergence(p, q), mc, atol=0.01, rtol=0)


def test_exponential_family_fallback_matches_closed_form():
    from distributions.kl_pairs.structural import _kl_exponential_family

    p, q = dist.Normal(torch.tensor([0.0, 1.0]), 1.5), dist.Normal(0.5, torch.tensor([1.0, 2.0]))
    torch.testing.assert_close(_kl_exponential_family(p, q), dist.kl_divergence(p, q))


def test_shapes_broadcast_between_p_and_q():
    p = dist.Normal(torch.zeros(3, 1), 1.0)
    q = dist.Normal(torch.zeros(4), 2.0)
    assert dist.kl_divergence(p, q).shape == (3, 4)


def test_missing_pair_names_both_classes_and_how_to_register():
    with pytest.raises(
        NotImplementedError,
        match=r"\(Beta, Categorical\).*@distributions.register_kl\(Beta, Categorical\)",
    ):
        dist.kl_divergence(dist.Beta(1.0, 1.0), dist.Categorical(torch.ones(2)))


def test_most_specific_pair_wins_and_ambiguity_warns():
    class A(dist.Normal):
        pass

    class B(A):
        pass

    @dist.register_kl(A, dist.Normal)
    def _a_normal(p, q):
        return torch.tensor(1.0)

    @dist.register_kl(dist.Normal, B)
    def _normal_b(p, q):
        return torch.tensor(2.0)

    assert dist.kl_divergence(A(0.0, 1.0), A(0.0, 1.0)).item() == 1.0
    with pytest.warns(
        dist.kl.AmbiguousKLWarning, match=r"ambiguous between \(A, Normal\) and \(Normal, B\)"
    ):
        dist.kl_divergence(B(0.0, 1.0), B(0.0, 1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dist.kl_divergence(B(0.0, 1.0), B(0.0, 1.0))  # memoized: no second warning


def test_register_kl_rejects_non_distributions():
    with pytest.raises(TypeError, match="type_p must be a Distribution subclass"):
        dist.register_kl(int, dist.Normal)


def test_kl_divergence_compiles_with_fullgraph_on_the_first_call():
    @torch.compile(fullgraph=True, backend="eager")
    def kl(loc, scale):
        return dist.kl_divergence(
            dist.Normal(loc, scale, validate_args=False), dist.Normal(0.0, 1.0, validate_args=False)
        )

    loc, scale = torch.tensor([0.3, 1.0]), torch.tensor([1.0, 2.0])
    torch.testing.assert_close(
        kl(loc, scale), dist.kl_divergence(dist.Normal(loc, scale), dist.Normal(0.0, 1.0))
    )
