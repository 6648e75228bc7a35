"""AutoGuideList: autoguides and hand-written guides composed, each owning some sites."""

import math

import pytest
import torch

import ppl
from distributions import Bernoulli, Normal, constraints
from inference import SVI, Predictive, Trace_ELBO
from inference.autoguide import AutoCallable, AutoDelta, AutoGuideList, AutoNormal
from inference.optim import ClippedAdam

DATA = torch.tensor([-0.4, 0.3, 0.6, 3.7, 4.2, 4.4])
N = len(DATA)


def model(data):
    mu = ppl.sample("mu", Normal(0.0, 2.0))
    with ppl.plate("data", N):
        z = ppl.sample("z", Bernoulli(0.5))
        ppl.sample("obs", Normal(mu + 4.0 * z, 1.0), obs=data)


def z_guide(data):
    probs = ppl.param("z_probs", torch.full((N,), 0.5), constraint=constraints.unit_interval)
    with ppl.plate("data", N):
        ppl.sample("z", Bernoulli(probs))


def make_guide():
    guide = AutoGuideList(model)
    guide.append(AutoNormal(ppl.handlers.block(model, hide=["z"])))
    guide.append(z_guide)
    return guide


def exact_posterior():
    # Enumerate z per datum, integrate mu on a fine grid (float64).
    grid = torch.linspace(-4.0, 4.0, 40001, dtype=torch.float64)
    x = DATA.double()
    log_p0 = math.log(0.5) + Normal(grid[:, None], 1.0).log_prob(x)
    log_p1 = math.log(0.5) + Normal(grid[:, None] + 4.0, 1.0).log_prob(x)
    log_post = Normal(0.0, 2.0).log_prob(grid) + torch.logaddexp(log_p0, log_p1).sum(-1)
    w = torch.softmax(log_post, 0)
    mean = (w * grid).sum()
    sd = (w * (grid - mean) ** 2).sum().sqrt()
    z_probs = (w[:, None] * torch.sigmoid(log_p1 - log_p0)).sum(0)
    return mean.item(), sd.item(), z_probs.float()


@pytest.mark.slow  # an SVI fit: a few seconds on a loaded 2-core machine
def test_autonormal_global_and_hand_guided_discrete_local_fit_the_posterior():
    guide = make_guide()
    elbo = Trace_ELBO(num_particles=8, vectorize_particles=True)
    svi = SVI(model, guide, ClippedAdam({"lr": 0.2, "lrd": 0.985}), elbo)
    for _ in range(150):
        svi.step(DATA)
    mean, sd, z_probs = exact_posterior()
    median = guide.median(DATA)
    q = guide.quantiles([0.158655, 0.841345], DATA)  # mean -/+ one sd of a normal
    # z is nearly determined by the data, so the mean-field optimum is close to
    # the exact posterior. Over seeds 0-2 the fits missed by at most 0.035 (mu),
    # 0.03 (sd) and 0.03 (z probs); the bounds below are about twice that.
    assert abs(median["mu"].item() - mean) < 0.08
    assert abs((q["mu"][1] - q["mu"][0]).item() / 2 - sd) < 0.06
    fitted = ppl.param("z_probs").detach()
    assert torch.all((fitted - z_probs).abs() < 0.06), (fitted, z_probs)


def test_calling_the_list_returns_every_parts_latents():
    guide = make_guide()
    values = guide(DATA)
    assert sorted(values) == ["mu", "z"]
    assert values["mu"].shape == () and values["z"].shape == (N,)
    assert len(guide) == 2 and isinstance(guide[0], AutoNormal)
    assert isinstance(guide[1], AutoCallable)
    tr = ppl.handlers.trace(guide).get_trace(DATA)
    assert [n for n in tr.stochastic_nodes] == ["mu", "z"]


def test_median_quantiles_and_sample_posterior_are_unions_over_parts():
    guide = AutoGuideList(model)
    guide.append(AutoNormal(ppl.handlers.block(model, hide=["z"])))
    hard = torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])

    def z_hard(data):
        with ppl.plate("data", N):
            ppl.sample("z", Bernoulli(hard))

    guide.append(AutoCallable(model, z_hard, median=lambda data: {"z": hard}))
    assert sorted(guide.median(DATA)) == ["mu", "z"]
    assert torch.equal(guide.median(DATA)["z"], hard)
    assert sorted(guide.quantiles([0.5], DATA)) == ["mu"]  # a hand part has no quantiles
    draws = guide.sample_posterior(7, DATA)
    assert draws["mu"].shape == (7,) and torch.equal(draws["z"], hard.expand(7, N))
    # Predictive takes every latent from the guide: z from the hand part, not the prior.
    predictive = Predictive(model, guide=guide, num_samples=7)
    samples = predictive(DATA)
    assert torch.equal(samples["z"], hard.expand(7, N))


def test_parts_share_the_subsample_of_the_lists_plates():
    seen = []

    def sub_model():
        with ppl.plate("data", 10, subsample_size=3):
            ppl.sample("x", Normal(0.0, 1.0))
            ppl.sample("z", Bernoulli(0.5))

    def local_guide():
        with ppl.plate("data", 10, subsample_size=3) as idx:
            seen.append(idx)
            ppl.sample("z", Bernoulli(0.5))

    chosen = torch.tensor([7, 2, 5])
    guide = AutoGuideList(sub_model, create_plates=lambda: ppl.plate("data", 10, subsample=chosen))
    guide.append(AutoDelta(ppl.handlers.block(sub_model, hide=["z"])))
    guide.append(local_guide)
    values = guide()
    assert torch.equal(seen[-1], chosen)
    full = ppl.get_param_store()["AutoDelta.x"]
    assert torch.equal(values["x"], full[chosen])


def test_two_parts_claiming_one_site_are_refused():
    guide = AutoGuideList(model)
    blocked = ppl.handlers.block(model, hide=["z"])
    guide.append(AutoNormal(blocked))
    guide.append(AutoDelta(blocked))
    with pytest.raises(
        ValueError,
        match=r"AutoGuideList: latent site 'mu' is claimed by part 0 and by part 1 \(AutoDelta\)",
    ):
        guide(DATA)


def test_append_errors():
    guide = AutoGuideList(model)
    part = AutoNormal(ppl.handlers.block(model, hide=["z"]))
    guide.append(part)
    with pytest.raises(ValueError, match="AutoGuideList: this AutoNormal part is already added"):
        guide.append(part)
    with pytest.raises(TypeError, match="AutoCallable: expected a callable guide, got int"):
        guide.append(3)
