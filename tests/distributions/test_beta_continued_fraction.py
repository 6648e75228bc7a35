"""The incomplete beta continued fraction: values, tangents, and the work it does.

Oracles: mpmath at 30 digits for ``h`` (``I = x^a y^b h / (a B(a, b))``) and
its derivatives in ``a`` and ``b`` (scipy's central differences lose 1e-7 to
cancellation at a = 1e-3), so the tolerances are our own float64 accuracy.
"""

import mpmath
import numpy as np
import pytest
import scipy.special as sc
import torch

import distributions as D
from distributions.special import beta_continued_fraction as cf

# (a, b, x) on the fast side x < (a + 1) / (a + b + 2), including terminating
# fractions (integer b) and tiny a.
POINTS = [
    (1e-3, 0.5, 1e-4),
    (0.1, 0.1, 0.3),
    (0.5, 2.0, 0.2),
    (1.0, 1.0, 0.25),
    (2.0, 3.0, 0.3),
    (3.0, 7.0, 0.2),
    (50.0, 50.0, 0.45),
    (300.0, 2.0, 0.99),
    (5.0, 300.0, 0.01),
]


def _log_h(a, b, x):
    i = mpmath.betainc(a, b, 0, x, regularized=True)
    return mpmath.log(i * a * mpmath.beta(a, b)) - a * mpmath.log(x) - b * mpmath.log1p(-x)


def _mp(fn):
    with mpmath.workdps(30):
        return np.array([float(fn(*map(mpmath.mpf, p))) for p in POINTS])


def _tensors(*cols):
    return [torch.tensor(c, dtype=torch.float64) for c in cols]


def test_value_matches_scipy():
    a, b, x = (np.array(c) for c in zip(*POINTS))
    h, dlog_h = cf.continued_fraction(*_tensors(a, b, x))
    assert dlog_h is None
    np.testing.assert_allclose(np.log(h.numpy()), _mp(_log_h), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("wrt", ["a", "b"])
def test_tangent_matches_central_differences(wrt):
    a, b, x = (np.array(c) for c in zip(*POINTS))
    if wrt == "a":
        expected = _mp(lambda a, b, x: mpmath.diff(lambda t: _log_h(t, b, x), a))
    else:
        expected = _mp(lambda a, b, x: mpmath.diff(lambda t: _log_h(a, t, x), b))
    ta = torch.full((len(a),), 1.0 if wrt == "a" else 0.0, dtype=torch.float64)
    _, dlog_h = cf.continued_fraction(*_tensors(a, b, x), ta)
    np.testing.assert_allclose(dlog_h.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_skipped_and_empty_elements_do_not_iterate():
    a, b, x = _tensors([2.0, 3.0], [3.0, 4.0], [0.3, 0.2])
    h, _ = cf.continued_fraction(a, b, x, skip=torch.tensor([True, False]))
    assert h[0].item() == 1.0 and h[1].item() != 1.0
    empty = torch.empty(0, dtype=torch.float64)
    assert cf.continued_fraction(empty, empty, empty)[0].shape == (0,)


def test_converged_elements_stop_costing(monkeypatch):
    # The work of a Dirichlet backward: the elements alive in each iteration,
    # summed. One slow element (a = b = 2e4, ~100 iterations) must not keep the
    # 30,000 fast ones iterating: without setting converged elements aside the
    # total would be about 100 x 30,000.
    live = []
    iterate = cf._Fraction.iterate

    def counting(self, m):
        live.append(self.x.numel())
        return iterate(self, m)

    monkeypatch.setattr(cf._Fraction, "iterate", counting)
    torch.manual_seed(0)
    n = 30_000
    a = torch.cat([torch.full((n,), 2.0), torch.tensor([2e4])]).double()
    b = torch.cat([torch.full((n,), 3.0), torch.tensor([2e4])]).double()
    x = torch.cat([torch.rand(n).double() * 0.3, torch.tensor([0.4999]).double()])
    cf.continued_fraction(a, b, x, torch.ones_like(a))
    assert len(live) > 50  # the slow element did need many iterations
    assert sum(live) < 15 * n


def test_dirichlet_backward_matches_the_beta_marginal_gradient_at_scale():
    # A batch large enough for compaction to reorder elements: every coordinate's
    # gradient is still that of its own Beta(alpha_i, sum - alpha_i) marginal.
    torch.manual_seed(3)
    alpha = torch.tensor([0.3, 2.0, 7.0], dtype=torch.float64, requires_grad=True)
    x = D.Dirichlet(alpha.expand(5000, 3)).rsample()
    (g,) = torch.autograd.grad(x[:, 0].sum(), alpha)
    xn = x[:, 0].detach().numpy()
    a, rest = 0.3, 9.0
    h = 1e-6 * a
    dcdf = (sc.betainc(a + h, rest, xn) - sc.betainc(a - h, rest, xn)) / (2 * h)
    pdf = np.exp((a - 1) * np.log(xn) + (rest - 1) * np.log1p(-xn) - sc.betaln(a, rest))
    # d x_0 / d alpha_0 summed over the draws.
    np.testing.assert_allclose(g[0].item(), (-dcdf / pdf).sum(), rtol=1e-6)


def test_second_derivatives_flow_through_the_recurrence():
    # With create_graph the recurrence runs out of place (autograd refuses saved
    # tensors overwritten); d2I/da2 matches central differences of dI/da.
    def d_i(a_value, create_graph=False):
        a = torch.tensor([a_value], dtype=torch.float64, requires_grad=True)
        b, x = torch.tensor([3.0], dtype=torch.float64), torch.tensor([0.3], dtype=torch.float64)
        (g,) = torch.autograd.grad(D.special.betainc(a, b, x).sum(), a, create_graph=create_graph)
        return a, g

    a, g = d_i(2.0, create_graph=True)
    (second,) = torch.autograd.grad(g.sum(), a)
    h = 1e-5
    expected = (d_i(2.0 + h)[1] - d_i(2.0 - h)[1]) / (2 * h)
    torch.testing.assert_close(second, expected, rtol=1e-6, atol=0)


def test_an_answer_does_not_depend_on_its_batch():
    # Bit for bit: the count icdf compares cdf values at exact steps. A fast
    # element in a batch of slow ones (a, b ~ 500 near their mean) keeps being
    # iterated after it settles; its answer must be the one it has alone.
    torch.manual_seed(2)
    a, b, x = _tensors([2.5], [3.5], [0.2])
    alone_h, alone_d = cf.continued_fraction(a, b, x, torch.ones_like(a))
    n = 2000
    slow_a = 400 + 200 * torch.rand(n, dtype=torch.float64)
    slow_x = slow_a / (2 * slow_a + 2) * (1 - 1e-3 * torch.rand(n, dtype=torch.float64))
    batch = [torch.cat([t, v]) for t, v in zip((slow_a, slow_a + 1, slow_x), (a, b, x))]
    h, d = cf.continued_fraction(*batch, torch.ones(n + 1, dtype=torch.float64))
    assert (h[-1].item(), d[-1].item()) == (alone_h.item(), alone_d.item())
