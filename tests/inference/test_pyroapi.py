"""pyroapi's published test suite, run against the ``"ppl"`` backend, and our extras on its models.

``from pyroapi.tests import *`` collects pyroapi's tests (SVI with ``Trace_ELBO``,
``JitTrace_ELBO`` and ``TraceMeanField_ELBO``, ``Adam`` and ``ClippedAdam``,
plates, constraints, local params); each asks for a ``backend`` fixture, which
selects ours.
"""

import pytest
import torch
from pyroapi import pyro_backend
from pyroapi.tests import *  # noqa: F403

import ppl
from inference import Predictive
from inference.autoguide import AutoNormal

MODEL_NAMES = ["logistic_regression", "neals_funnel", "eight_schools", "beta_binomial"]


@pytest.fixture
def backend():
    with pyro_backend("ppl"):
        yield


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_predictive_vectorizes_every_reference_model(backend, name):
    # The models call pyroapi's generic `pyro.sample`, dispatched when they run, so
    # everything runs under the backend fixture. filterwarnings=error: a fallback
    # to the sequential loop would fail this test.
    from pyroapi.testing import MODELS

    spec = MODELS[name]()
    model, args = spec["model"], spec.get("model_args", ())
    kwargs = spec.get("model_kwargs", {})
    guide = AutoNormal(model)
    guide(*args, **kwargs)
    predictive = Predictive(model, guide=guide, num_samples=7)
    samples = predictive(*args, **kwargs)
    assert predictive.parallel
    trace = ppl.handlers.trace(model).get_trace(*args, **kwargs)
    for site in trace.stochastic_nodes + trace.observation_nodes:
        assert samples[site].shape == (7,) + trace.nodes[site]["value"].shape, site
        assert torch.isfinite(samples[site].float()).all(), site
