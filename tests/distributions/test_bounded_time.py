"""Statistics whose cost used to follow a parameter: huge counts and concentrations, empty batches.

Each case is checked against an oracle (scipy.stats / scipy.special, or a
closed-form series) and must answer within a wall-clock bound far above its
cost today (milliseconds) and far below the old cost (seconds to a hang), so a
regression back to a loop whose length follows the parameter fails.
"""

import math
import time

import pytest
import scipy.special as sc
import scipy.stats as st
import torch

from distributions import Beta, Binomial, NegativeBinomial, Poisson, StudentT
from distributions.counts import count_entropy
from distributions.special import betainc

# Generous against a loaded 2-core machine; the old code took 2 s to a hang.
_BOUND_S = 1.5


def f64(v):
    return torch.tensor(v, dtype=torch.float64)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    assert time.perf_counter() - start < _BOUND_S
    return out


@pytest.mark.parametrize(
    "s, share", [(2e6, 0.5), (2e7, 0.05), (1e8, 0.5), (1e10, 0.5), (1e10, 0.9), (1e10, 0.01)]
)
def test_betainc_large_parameters_match_scipy(s, share):
    a, b = share * s, (1 - share) * s
    z = torch.tensor([-20.0, -5.0, -1.0, 0.0, 0.3, 2.0, 8.0], dtype=torch.float64)
    x = share + z * math.sqrt(share * (1 - share) / s)
    got = timed(lambda: betainc(f64(a), f64(b), x))
    want = torch.from_numpy(sc.betainc(a, b, x.numpy()))
    # Temme's two-term expansion: below 1e-11 absolute and 1e-9 relative in the tails.
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-11)


def test_betainc_large_parameter_gradients_match_finite_differences():
    a, b, x = (f64(v).requires_grad_() for v in (3e7, 5e7, 0.37501))
    betainc(a, b, x).backward()
    h = 1.0  # the cdf moves on a scale of sqrt(a) ~ 5e3 in a: central differences are exact to 1e-8
    da = (sc.betainc(3e7 + h, 5e7, 0.37501) - sc.betainc(3e7 - h, 5e7, 0.37501)) / (2 * h)
    db = (sc.betainc(3e7, 5e7 + h, 0.37501) - sc.betainc(3e7, 5e7 - h, 0.37501)) / (2 * h)
    assert a.grad.item() == pytest.approx(da, rel=1e-6)
    assert b.grad.item() == pytest.approx(db, rel=1e-6)


def test_beta_cdf_at_huge_equal_concentrations_is_one_half():
    d = Beta(f64(1e300), f64(1e300))
    assert timed(lambda: d.cdf(f64(0.5))).item() == 0.5


def test_empty_batches_answer_at_once():
    empty = torch.tensor([])
    assert timed(lambda: NegativeBinomial(6e29, logits=empty).cdf(torch.tensor(1.0))).shape == (0,)
    assert timed(lambda: Beta(empty + 1e9, empty + 1e9).cdf(empty)).shape == (0,)
    assert Binomial(5, probs=torch.zeros(1, 0)).cdf(torch.tensor(0.0)).shape == (1, 0)
    assert Binomial(5, probs=torch.zeros(1, 0)).enumerate_support().shape[1:] == (1, 0)


@pytest.mark.parametrize("from_logits", [False, True])
def test_binomial_cdf_matches_scipy_for_large_counts(from_logits):
    n = torch.tensor([10.0, 1e4, 1e7], dtype=torch.float64)
    p = torch.tensor([0.3, 0.01, 0.5], dtype=torch.float64)
    d = Binomial(n, logits=torch.logit(p)) if from_logits else Binomial(n, p)
    k = torch.tensor([3.0, 95.0, 5e6 - 800], dtype=torch.float64)
    got = timed(lambda: d.cdf(k))
    torch.testing.assert_close(got, torch.from_numpy(st.binom(n, p).cdf(k)), rtol=1e-9, atol=0)
    assert torch.equal(timed(lambda: d.icdf(got)), k)


def test_binomial_cdf_at_the_ends():
    d = Binomial(torch.tensor([4.0, 4.0, 0.0]), torch.tensor([0.0, 1.0, 0.5]))
    assert d.cdf(torch.tensor([0.0, 3.0, 0.0])).tolist() == [1.0, 0.0, 1.0]
    assert d.cdf(torch.tensor([-1.0, 4.0, 2.0])).tolist() == [0.0, 1.0, 1.0]


def test_poisson_entropy_for_huge_rates():
    rate = torch.tensor([2.0, 9999.0, 1e4, 1e6, 7e28], dtype=torch.float64)
    got = timed(lambda: Poisson(rate).entropy())
    # The Poisson entropy series (Evans & Boersma 1988) to rate^-3.
    series = 0.5 * torch.log(2 * math.pi * math.e * rate) - 1 / (12 * rate) - 1 / (24 * rate**2)
    series = series - 19 / (360 * rate**3)
    # The sum (at 9999) rounds to about 1e-12; the expansion matches the series to 1e-13.
    torch.testing.assert_close(got[1:], series[1:], rtol=1e-11, atol=0)
    assert got[0].item() == pytest.approx(st.poisson(2.0).entropy(), rel=1e-12)


def test_negative_binomial_statistics_for_huge_counts():
    d = NegativeBinomial(1e10, logits=torch.tensor(0.0, dtype=torch.float64))
    # r p = 5e9: Edgeworth to O((r p)^-3); as a law it is Binomial-like with variance 2e10.
    h = timed(d.entropy)
    assert h.item() == pytest.approx(0.5 * math.log(2 * math.pi * math.e * 2e10), abs=1e-9)
    # (The median itself sits 6e-15 below a step of the cdf: no test of 1e-11 accuracy.)
    assert timed(lambda: d.icdf(f64(0.3))).item() == st.nbinom(1e10, 0.5).ppf(0.3)
    want = st.nbinom(1e10, 0.5).cdf(1e10)
    assert timed(lambda: d.cdf(f64(1e10))).item() == pytest.approx(want, abs=1e-11)


@pytest.mark.parametrize("r, p", [(2e4, 0.5), (3e4, 0.2), (1e5, 0.9)])
def test_negative_binomial_entropy_expansion_meets_the_sum(r, p):
    # Just inside the expansion's regime the exact sum is still affordable.
    d = NegativeBinomial(f64(r), probs=f64(p))
    exact = count_entropy(d.log_prob, lambda k: p * (k + r) / (k + 1), d.mode, d.batch_shape)
    assert d.entropy().item() == pytest.approx(exact.item(), abs=1e-10)


def test_binomial_entropy_for_huge_counts():
    n = torch.tensor([1e5, 1e5, 1e12, 1e10], dtype=torch.float64)
    p = torch.tensor([0.5, 0.999, 0.3, 1 - 1e-9], dtype=torch.float64)
    got = timed(lambda: Binomial(n, p).entropy())
    want = [st.binom(1e5, 0.5).entropy(), st.binom(1e5, 0.999).entropy()]
    torch.testing.assert_close(got[:2], torch.tensor(want, dtype=torch.float64), rtol=1e-9, atol=0)
    var = 1e12 * 0.3 * 0.7
    assert got[2].item() == pytest.approx(0.5 * math.log(2 * math.pi * math.e * var), abs=1e-10)
    # n p (1 - p) = 10: nearly Poisson(10) counted down from n.
    assert got[3].item() == pytest.approx(st.binom(10**4, 1e-3).entropy(), abs=1e-3)


def test_negative_binomial_entropy_answers_where_the_sum_is_unbounded():
    # 4e10 terms: the tail is integrated. As q = 1 - p -> 0, q X tends to
    # Gamma(r, 1), so H -> h(Gamma(r)) - log q with an O(q) error for r > 1.
    d = NegativeBinomial(3.0, probs=f64(1 - 1e-9))
    q = 1 - (1 - 1e-9)
    h_gamma = 3.0 + math.lgamma(3.0) - 2.0 * (1.5 - 0.5772156649015329)  # r + lgamma + (1-r)psi
    assert timed(d.entropy).item() == pytest.approx(h_gamma - math.log(q), abs=1e-7)


@pytest.mark.parametrize("df", [1e7, 1e10])
def test_student_t_with_huge_df_matches_scipy_in_bounded_time(df):
    d = StudentT(f64(df))
    t = torch.tensor([-8.0, -1.0, 0.0, 0.5, 3.0], dtype=torch.float64)
    got = timed(lambda: d.cdf(t))
    torch.testing.assert_close(got, torch.from_numpy(st.t(df).cdf(t.numpy())), rtol=1e-9, atol=0)
    p = torch.tensor([1e-10, 0.1, 0.5, 0.9], dtype=torch.float64)
    want = torch.from_numpy(st.t(df).ppf(p.numpy()))
    torch.testing.assert_close(timed(lambda: d.icdf(p)), want, rtol=1e-12, atol=1e-12)
