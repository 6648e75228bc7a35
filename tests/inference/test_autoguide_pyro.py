"""Autoguides as Pyro users call them (issues 17 and 20): default init, detached results."""

import pytest
import torch
from torch.distributions import constraints as torch_constraints

import ppl
from distributions import Distribution, Gamma, Normal
from inference.autoguide import (
    AutoDelta,
    AutoDiagonalNormal,
    AutoLowRankMultivariateNormal,
    AutoMultivariateNormal,
    AutoNormal,
)

GUIDES = [
    AutoNormal,
    AutoDelta,
    AutoDiagonalNormal,
    AutoMultivariateNormal,
    AutoLowRankMultivariateNormal,
]


def model():
    loc = ppl.sample("loc", Normal(3.0, 1.0))
    ppl.sample("rate", Gamma(2.0, 1.0))
    with ppl.plate("data", 4):
        ppl.sample("obs", Normal(loc, 1.0), obs=torch.arange(4.0))


def test_autonormal_starts_where_pyros_does_init_to_feasible():
    # Pyro's AutoNormal defaults to init_to_feasible: zero in unconstrained space,
    # whatever the prior (its joint guides and AutoDelta default to init_to_median).
    guide = AutoNormal(model)
    guide()
    store = ppl.get_param_store()
    assert store.get_param("AutoNormal.locs.loc").item() == 0.0
    assert store.get_param("AutoNormal.locs.rate").item() == 0.0  # log 1: rate starts at 1
    assert guide.median()["rate"].item() == pytest.approx(1.0)


@pytest.mark.parametrize("guide_class", GUIDES, ids=lambda c: c.__name__)
def test_median_quantiles_samples_are_detached_copies(guide_class):
    guide = guide_class(model)
    guide()
    results = {
        "median": guide.median(),
        "quantiles": guide.quantiles([0.25, 0.75]),
        "sample_posterior": guide.sample_posterior(3),
    }
    params = [p for _, p in ppl.get_param_store().named_parameters()]
    pointers = {p.data_ptr() for p in params}
    for method, values in results.items():
        for name, value in values.items():
            assert not value.requires_grad, (method, name)
            assert value.data_ptr() not in pointers, (method, name)
    before = [p.detach().clone() for p in params]
    guide.median()["loc"].add_(100.0)  # as a user edits a result in place
    for p, old in zip(params, before):
        torch.testing.assert_close(p.detach(), old)


class _PositiveLatent(Distribution):
    """A user's distribution whose support is torch's constraint object."""

    support = torch_constraints.positive
    arg_constraints: dict = {}  # declared, as torch asks (it warns otherwise)
    has_rsample = True

    def rsample(self, sample_shape=torch.Size()):
        return torch.ones(sample_shape)

    def log_prob(self, value):
        return -value


def test_autoguide_accepts_a_torch_constraint_support():
    def user_model():
        ppl.sample("s", _PositiveLatent())

    guide = AutoNormal(user_model)
    value = guide()["s"]
    assert value.item() > 0
    assert guide.median()["s"].item() == pytest.approx(1.0)
