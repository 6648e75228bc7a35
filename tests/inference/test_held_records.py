"""An ELBO evaluation holds its draws' validation records, and releases them after."""

import pytest
import torch

import ppl
from distributions import Normal, constraints
from distributions import validation as dist_validation
from inference import SVI, Trace_ELBO
from inference.optim import Adam


def test_a_draw_is_known_valid_in_the_model_and_forgotten_after_the_step():
    seen = {}

    def model():
        z = ppl.sample("z", Normal(0.0, 1.0).expand([3]).to_event(1))
        # The guide's draw, replayed: recorded in the support, held, not weakly kept.
        seen["known"] = dist_validation.is_known_valid(z, constraints.real)
        seen["held"] = id(z) in dist_validation._KNOWN._held
        seen["z"] = z

    def guide():
        loc = ppl.param("loc", torch.zeros(3))
        scale = ppl.param("scale", torch.ones(3), constraint=constraints.positive)
        ppl.sample("z", Normal(loc, scale).to_event(1))

    svi = SVI(model, guide, Adam({"lr": 0.01}), Trace_ELBO())
    svi.step()
    assert seen["known"] and seen["held"]
    assert not dist_validation._KNOWN._held
    assert dist_validation._KNOWN.get(seen["z"]) is None


def test_a_failing_evaluation_releases_what_it_held():
    def model():
        ppl.sample("z", Normal(0.0, 1.0))

    def guide():
        ppl.sample("z", Normal(ppl.param("loc", torch.tensor(0.0)), 1.0))
        raise RuntimeError("guide failed")

    with pytest.raises(RuntimeError, match="guide failed"):
        Trace_ELBO().differentiable_loss(model, guide)
    assert not dist_validation._KNOWN._held
