"""``lift`` with the priors Pyro accepts (issue 17): distributions and functions."""

import pytest
import torch

import ppl
from distributions import Normal
from inference import SVI, Trace_ELBO
from inference.optim import Adam
from ppl.handlers import lift, trace


def model():
    loc = ppl.param("loc", torch.tensor(0.5))
    ppl.sample("obs", Normal(loc, 1.0), obs=torch.tensor(1.0))
    return loc


def test_a_function_returning_a_distribution_is_a_prior():
    tr = trace(lift(model, prior={"loc": lambda: Normal(0.0, 10.0)})).get_trace()
    site = tr.nodes["loc"]
    assert site["type"] == "sample" and not site["is_observed"]
    assert site["fn"].scale.item() == 10.0
    assert tr.nodes["_RETURN"]["value"] is site["value"]
    expected = Normal(0.0, 10.0).log_prob(site["value"]) + Normal(site["value"], 1.0).log_prob(
        torch.tensor(1.0)
    )
    assert torch.allclose(tr.log_prob_sum(), expected)


def test_a_stochastic_function_is_a_prior_and_its_sites_are_recorded():
    def loc_prior():
        return 2.0 * ppl.sample("loc_raw", Normal(0.0, 1.0))

    def model_reading_twice():
        a = ppl.param("loc", torch.tensor(0.5))
        b = ppl.param("loc")
        return a, b

    tr = trace(lift(model_reading_twice, prior={"loc": loc_prior})).get_trace()
    a, b = tr.nodes["_RETURN"]["value"]
    assert list(tr.nodes) == ["loc_raw", "_RETURN"]  # the param site itself is hidden
    assert a is b and torch.equal(a, 2.0 * tr.nodes["loc_raw"]["value"])


def test_a_function_called_as_pyro_calls_it_gets_the_init_value():
    def prior(init_value, constraint=None, event_dim=None):
        return Normal(init_value, 1e-3)

    tr = trace(lift(model, prior={"loc": prior})).get_trace()
    assert tr.nodes["loc"]["fn"].loc.item() == 0.5
    tr = trace(lift(model, prior={"loc": lambda init: Normal(init, 1.0)})).get_trace()
    assert tr.nodes["loc"]["fn"].loc.item() == 0.5


def test_one_callable_prior_for_every_param():
    def two_params():
        ppl.param("a", torch.tensor(0.0))
        ppl.param("b", torch.tensor(0.0))

    tr = trace(lift(two_params, prior=lambda: Normal(0.0, 1.0))).get_trace()
    assert tr.stochastic_nodes == ["a", "b"]


def test_a_lifted_model_runs_under_svi_with_a_guide():
    def guide():
        q = ppl.param("q_loc", torch.tensor(0.0))
        ppl.sample("loc", Normal(q, 1.0))

    lifted = lift(model, prior={"loc": lambda: Normal(0.0, 10.0)})
    loss = SVI(lifted, guide, Adam({"lr": 0.01}), Trace_ELBO()).step()
    assert isinstance(loss, float) and "loc" not in ppl.get_param_store()


def test_priors_that_are_not_priors_are_named():
    with pytest.raises(TypeError, match=r"lift: prior\['loc'\] must be a distribution or a fun"):
        lift(model, prior={"loc": 3.0})
    with pytest.raises(TypeError, match=r"prior function for param 'loc' returned str; expected"):
        lift(model, prior={"loc": lambda: "normal"})()
    with pytest.raises(TypeError, match=r"prior function for param 'loc' takes arguments lift"):
        lift(model, prior={"loc": lambda *, scale: Normal(0.0, scale)})()
