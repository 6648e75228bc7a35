"""Importance: log weights, evidence and effective sample size against a conjugate model."""

import math

import pytest
import torch

import ppl
from distributions import Normal
from inference import Importance
from inference.autoguide import AutoNormal

# Normal-Normal: mu ~ N(0, PRIOR_SD^2), y_i ~ N(mu, NOISE_SD^2); exact evidence below.
PRIOR_SD, NOISE_SD = 2.0, 1.0
DATA = torch.tensor([0.3, 1.1, 2.0, 0.7])


def model(data=DATA):
    mu = ppl.sample("mu", Normal(0.0, PRIOR_SD))
    with ppl.plate("data", len(data)):
        ppl.sample("y", Normal(mu, NOISE_SD), obs=data)


def exact_posterior(data=DATA):
    precision = 1 / PRIOR_SD**2 + len(data) / NOISE_SD**2
    return (data.sum() / NOISE_SD**2) / precision, precision**-0.5


def exact_log_evidence(data=DATA):
    # y ~ N(0, NOISE_SD^2 I + PRIOR_SD^2 11^T)
    n = len(data)
    cov = NOISE_SD**2 * torch.eye(n) + PRIOR_SD**2 * torch.ones(n, n)
    _, logdet = torch.linalg.slogdet(cov)
    maha = data @ torch.linalg.solve(cov, data)
    return -0.5 * (n * math.log(2 * math.pi) + logdet + maha)


def exact_guide(data=DATA):
    loc, sd = exact_posterior(data)
    ppl.sample("mu", Normal(loc, sd))


def test_exact_posterior_proposal_gives_constant_weights_equal_to_the_evidence():
    # With q = p(mu | y), every weight p(y, mu) / q(mu) equals p(y) exactly.
    imp = Importance(model, guide=exact_guide, num_samples=50).run()
    expected = exact_log_evidence()
    assert imp.log_weights.shape == (50,)
    assert torch.allclose(imp.log_weights, expected.expand(50), atol=1e-4)
    assert torch.allclose(imp.log_evidence, expected, atol=1e-4)
    assert abs(imp.ess.item() - 50) < 1e-3


@pytest.mark.parametrize("parallel", [True, False])
def test_prior_proposal_estimates_the_evidence_and_posterior_mean(parallel):
    # 20000 prior draws: the evidence estimate's relative sd is about 0.02 here, the
    # tolerance 0.1 is five sds (false-alarm rate < 1e-6); fixed seed.
    imp = Importance(model, num_samples=20000, parallel=parallel).run()
    assert abs(imp.log_evidence - exact_log_evidence()).item() < 0.1
    loc, sd = exact_posterior()
    assert abs(imp.mean("mu") - loc).item() < 0.05
    assert 1 <= imp.ess.item() < 20000
    assert torch.allclose(imp.normalized_weights.sum(), torch.tensor(1.0))
    resampled = imp.resample(5000)["mu"]
    assert abs(resampled.mean() - loc).item() < 0.1 and abs(resampled.std() - sd).item() < 0.1


def test_pyro_names_agree_with_properties():
    imp = Importance(model, guide=exact_guide, num_samples=10).run()
    # The exact posterior as proposal: every weight is the evidence.
    torch.testing.assert_close(imp.get_log_normalizer(), exact_log_evidence(), atol=1e-4, rtol=0)
    assert torch.equal(imp.get_normalized_weights(), imp.normalized_weights)
    assert torch.equal(imp.get_ESS(), imp.ess)
    assert imp.samples["mu"].shape == (10,)


def test_errors():
    with pytest.raises(RuntimeError, match=r"no weights yet; call .run\(\*model_args\) first"):
        Importance(model).log_evidence
    with pytest.raises(ValueError, match="num_samples must be a positive int"):
        Importance(model, num_samples=0)


def test_autoguide_proposal_is_set_up_outside_vmap_and_exact_when_fitted():
    # An unused autoguide runs its set-up before the vectorized pass (which could not
    # run its checks): filterwarnings=error turns a loop fallback into a failure.
    guide = AutoNormal(model)
    first = Importance(model, guide=guide, num_samples=20).run()
    assert first.log_weights.shape == (20,) and first._map.parallel
    loc, sd = exact_posterior()
    store = ppl.get_param_store()
    store["AutoNormal.locs.mu"] = loc.clone()
    store["AutoNormal.scales.mu"] = torch.as_tensor(sd).clone()
    imp = Importance(model, guide=guide, num_samples=20).run()
    assert torch.allclose(imp.log_weights, exact_log_evidence().expand(20), atol=1e-4)
