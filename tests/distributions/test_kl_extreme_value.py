"""KL pairs with Gumbel, Pareto, Geometric and OneHotCategorical, and registry coverage.

Oracles: ``torch.distributions.kl_divergence`` (on both arguments expanded to
the broadcast batch shape: several of torch's pairs write ``inf`` through a
boolean mask of ``p``'s shape and fail when ``q`` broadcasts it), exact
enumeration for Geometric, Monte Carlo for two finite pairs, and 50-digit
arithmetic where float64 evaluation of torch's formula overflows.
"""

import math

import mpmath
import pytest
import torch
import torch.distributions as tdist
from torch.distributions.kl import _KL_REGISTRY

import distributions as dist
from distributions.kl import _REGISTRY
from distributions.kl_pairs.extreme_value import log_mgf_at_negative


def _f(*values):
    return torch.tensor(values, dtype=torch.float64)


def _col(*values):
    """A column, so that a q built from it broadcasts against p's row of parameters."""
    return _f(*values).unsqueeze(-1)


def _cases():
    # p's parameters are rows, q's include a column: every result is a
    # (rows of q) x (entries of p) table. Values are chosen to hit both the
    # finite and the +inf parts of each pair's parameter space.
    gumbel = ("Gumbel", (_f(0.0, 1.0, -2.0), _f(1.0, 2.0, 0.3)))
    pareto = ("Pareto", (_f(1.0, 2.0, 1.0, 0.5), _f(0.5, 3.0, 1.5, 2.5)))
    normal = ("Normal", (_f(0.0, 1.0), _f(1.0, 0.4)))
    return [
        ("Beta", (_f(1.0, 2.0), _f(2.0, 0.5)), "Pareto", (_col(0.5, 1.0), _f(2.0))),
        ("Exponential", (_f(1.0, 2.0),), "Gumbel", (_col(0.0, 1.5, -1.0), _f(0.5, 2.0))),
        ("Exponential", (_f(1.0, 2.0),), "Pareto", (_col(0.5, 1.0), _f(2.0))),
        ("Gamma", (_f(1.0, 2.0), _f(2.0, 0.5)), "Gumbel", (_col(0.0, 1.5, -1.0), _f(0.5, 2.0))),
        ("Gamma", (_f(1.0, 2.0), _f(2.0, 0.5)), "Pareto", (_col(0.5, 1.0), _f(2.0))),
        ("Geometric", (_f(0.2, 0.7, 0.95),), "Geometric", (_col(0.4, 0.05, 1.0),)),
        (*gumbel, "Beta", (_col(2.0, 1.0), _f(1.5))),
        (*gumbel, "Exponential", (_col(1.5, 0.5),)),
        (*gumbel, "Gamma", (_col(2.0, 1.0), _f(1.5))),
        (*gumbel, "Gumbel", (_col(0.5, -1.0), _f(1.5))),
        (*gumbel, "Normal", (_col(0.5, -1.0), _f(1.5))),
        (*gumbel, "Pareto", (_col(0.5, 1.0), _f(2.0))),
        (*gumbel, "Uniform", (_col(-1.0, 0.0), _f(2.0))),
        ("Laplace", (_f(0.0, 1.0), _f(1.0, 2.0)), "Pareto", (_col(0.5, 1.0), _f(2.0))),
        (*normal, "Gumbel", (_col(0.5, -1.0), _f(1.5, 0.7))),
        (*normal, "Pareto", (_col(0.5, 1.0), _f(2.0))),
        (
            "OneHotCategorical",
            (torch.stack([_f(0.2, 0.3, 0.5), _f(0.5, 0.5, 0.0)]),),
            "OneHotCategorical",
            (torch.stack([_f(0.6, 0.1, 0.3), _f(0.3, 0.0, 0.7)]).unsqueeze(1),),
        ),
        (*pareto, "Beta", (_col(2.0, 1.0), _f(1.5))),
        (*pareto, "Exponential", (_col(1.5, 0.5),)),
        (*pareto, "Gamma", (_col(2.0, 1.0), _f(1.5, 0.5, 3.0, 1.0))),
        (*pareto, "Normal", (_col(0.5, -1.0), _f(1.5))),
        (*pareto, "Pareto", (_col(0.8, 1.5), _f(2.0, 0.5, 1.0, 3.0))),
        (*pareto, "Uniform", (_col(-1.0, 0.0), _f(2.0))),
        ("Uniform", (_f(0.0, 0.5, 2.0), _f(1.0, 3.0, 2.001)), "Gumbel", (_col(0.5, -1.0), _f(1.5))),
        (
            "Uniform",
            (_f(0.5, 2.0, 1.2, -1.0), _f(3.0, 4.0, 1.3, 1.0)),
            "Pareto",
            (_col(1.0, 0.4), _f(2.0, 0.7, 3.0, 1.0)),
        ),
    ]


def _build(module, name, args):
    return getattr(module, name)(*args)


@pytest.mark.parametrize(
    "p_name, p_args, q_name, q_args", _cases(), ids=lambda x: x if isinstance(x, str) else ""
)
def test_pairs_match_torch_with_broadcasting(p_name, p_args, q_name, q_args):
    ours = dist.kl_divergence(_build(dist, p_name, p_args), _build(dist, q_name, q_args))
    tp, tq = _build(tdist, p_name, p_args), _build(tdist, q_name, q_args)
    shape = torch.broadcast_shapes(tp.batch_shape, tq.batch_shape)
    ref = tdist.kl_divergence(tp.expand(shape), tq.expand(shape))
    assert ours.shape == shape and ours.dtype == torch.float64
    torch.testing.assert_close(ours, ref)


def test_cases_reach_finite_and_infinite_values():
    # Guards the table above: a pair whose cases are all +inf (or all finite
    # where torch has +inf somewhere) would test only half of its formula.
    finite = {"Exponential", "Gamma", "Geometric", "Gumbel", "Normal", "Uniform"}
    for p_name, p_args, q_name, q_args in _cases():
        kl = dist.kl_divergence(_build(dist, p_name, p_args), _build(dist, q_name, q_args))
        if (p_name, q_name) in {
            ("Pareto", "Pareto"),
            ("Pareto", "Gamma"),
            ("Pareto", "Exponential"),
            ("Pareto", "Normal"),
            ("Uniform", "Pareto"),
            ("Geometric", "Geometric"),
            ("OneHotCategorical", "OneHotCategorical"),
        }:
            assert kl.isinf().any() and kl.isfinite().any(), (p_name, q_name)
        elif q_name in {"Beta", "Exponential", "Gamma", "Pareto", "Uniform"}:
            assert kl.isinf().all(), (p_name, q_name)
        else:
            assert q_name in finite and kl.isfinite().all(), (p_name, q_name)


def _mc_kl(p, q, n):
    x = p.sample((n,))
    return (p.log_prob(x) - q.log_prob(x)).mean(0)


def test_gumbel_normal_matches_monte_carlo():
    # 200k draws; the log-ratio's standard deviation is below 3 here, so the
    # standard error is under 7e-3 and atol 0.03 is beyond 4 standard errors.
    torch.manual_seed(0)
    p = dist.Gumbel(_f(0.3, -1.0), _f(1.0, 0.5))
    q = dist.Normal(_f(0.0), _f(2.0))
    torch.testing.assert_close(dist.kl_divergence(p, q), _mc_kl(p, q, 200_000), atol=0.03, rtol=0)


def test_pareto_exponential_matches_monte_carlo():
    # alpha > 2 keeps the log-ratio's variance finite (it is linear in x and
    # log x); its standard deviation is below 2.5 here, so 200k draws give a
    # standard error under 6e-3 and atol 0.03 is beyond 5 standard errors.
    torch.manual_seed(0)
    p = dist.Pareto(_f(1.0, 0.5), _f(4.0, 6.0))
    q = dist.Exponential(_f(0.7))
    torch.testing.assert_close(dist.kl_divergence(p, q), _mc_kl(p, q, 200_000), atol=0.03, rtol=0)


def _geometric_by_enumeration(p, q, terms=4000):
    # (1 - p)^k decays geometrically; for p >= 0.2 the tail past 4000 is < 1e-380.
    k = torch.arange(terms, dtype=torch.float64).unsqueeze(-1)
    lp, lq = dist.Geometric(p).log_prob(k), dist.Geometric(q).log_prob(k)
    return torch.where(lp > -math.inf, lp.exp() * (lp - lq), 0.0).sum(0)


def test_geometric_point_mass_edges_are_exact():
    # torch gives +inf for KL(Geometric(1) || Geometric(1)); both are the point
    # mass at 0, so the divergence is 0. Against Geometric(1), any p < 1 is +inf.
    p = _f(1.0, 1.0, 0.3, 0.2)
    q = _f(1.0, 0.4, 1.0, 0.6)
    kl = dist.kl_divergence(dist.Geometric(p), dist.Geometric(q))
    torch.testing.assert_close(kl, _f(0.0, -math.log(0.4), math.inf, kl[3].item()))
    torch.testing.assert_close(kl[3:], _geometric_by_enumeration(p[3:], q[3:]))


def test_geometric_matches_enumeration():
    p, q = _f(0.2, 0.5, 0.9), _f(0.7, 0.25, 0.3)
    kl = dist.kl_divergence(dist.Geometric(p), dist.Geometric(q))
    torch.testing.assert_close(kl, _geometric_by_enumeration(p, q))


def test_gamma_gumbel_stays_finite_where_exp_of_loc_over_scale_overflows():
    # exp(loc / scale) = exp(1000) overflows float64 (torch returns +inf), but
    # the tail term is exp(1000 - 1000 log 2), about 1e133. The oracle is
    # torch's formula evaluated in 50-digit arithmetic.
    a, b, m, s = 1000, 1, 1000, 1
    with mpmath.workdps(50):
        bs = mpmath.mpf(b * s)
        ref = (
            (a - 1) * mpmath.digamma(a)
            - mpmath.loggamma(a)
            - a
            + mpmath.log(bs)
            + a / bs
            + mpmath.exp(mpmath.mpf(m) / s) * (1 + 1 / bs) ** (-a)
            - mpmath.mpf(m) / s
        )
    ours = dist.kl_divergence(dist.Gamma(_f(a), _f(b)), dist.Gumbel(_f(m), _f(s)))
    theirs = tdist.kl_divergence(tdist.Gamma(_f(a), _f(b)), tdist.Gumbel(_f(m), _f(s)))
    assert theirs.isinf().all()
    torch.testing.assert_close(ours, _f(float(ref)))


def test_uniform_pareto_gradients_stay_finite_where_the_divergence_is_infinite():
    # An interval reaching below 0 has a NaN E[log X]; it must not reach the
    # gradient of q's parameters, shared with the finite entries.
    low = torch.tensor([2.0, -1.0], dtype=torch.float64, requires_grad=True)
    alpha = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    kl = dist.kl_divergence(dist.Uniform(low, _f(3.0, 1.0)), dist.Pareto(_f(1.0), alpha))
    assert kl[0].isfinite() and kl[1].isinf()
    kl[0].backward()
    ref_alpha = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    tdist.kl_divergence(
        tdist.Uniform(_f(2.0), _f(3.0)), tdist.Pareto(_f(1.0), ref_alpha)
    ).backward()
    assert low.grad[1] == 0 and torch.isfinite(low.grad).all()
    torch.testing.assert_close(alpha.grad, ref_alpha.grad)


def test_log_mgf_rejects_families_without_a_closed_form():
    with pytest.raises(TypeError, match="no closed form for Laplace"):
        log_mgf_at_negative(dist.Laplace(0.0, 1.0), torch.tensor(1.0))


_kl_module = tdist.kl.__name__


def _names(registry):
    return {(p.__name__, q.__name__) for p, q in registry}


def test_registry_covers_every_torch_pair_between_families_we_have():
    ours = _names(_REGISTRY)
    # Only the pairs torch itself defines: libraries imported by other tests
    # (Pyro) register pairs in torch's registry too.
    torch_own = [pair for pair, fn in _KL_REGISTRY.items() if fn.__module__ == _kl_module]
    have = {(p, q) for p, q in _names(torch_own) if hasattr(dist, p) and hasattr(dist, q)}
    assert len(have) >= 74  # torch 2.13 has 87 pairs; only ContinuousBernoulli's were missing
    assert sorted(have - ours) == []
