"""The pyroapi backend "ppl": registration and pyroapi's reference models."""

import pyroapi
import pytest
import torch
from pyroapi import handlers, pyro, pyro_backend

import distributions
import ppl
from ppl.pyroapi_backend import BACKEND_MODULES

# The distribution families each reference model uses. The families land in
# `distributions` one by one; a model runs here as soon as its families exist.
FAMILIES = {
    "logistic_regression": ["Normal", "Bernoulli"],
    "neals_funnel": ["Normal", "TransformedDistribution"],
    "eight_schools": ["Normal", "HalfCauchy"],
    "beta_binomial": ["Binomial", "HalfCauchy", "Beta"],
}
MODEL_NAMES = list(FAMILIES)


def _require_families(*names):
    missing = [f for name in names for f in FAMILIES[name] if not hasattr(distributions, f)]
    if missing:
        pytest.skip(f"distributions does not define {missing} yet")


def test_backend_is_registered_with_module_names():
    assert pyroapi.dispatch._ALIASES["ppl"] == {
        "pyro": "ppl",
        "distributions": "distributions",
        "handlers": "ppl.handlers",
        "infer": "inference",
        "optim": "inference.optim",
        "ops": "torch",
    }
    assert all(isinstance(v, str) for v in BACKEND_MODULES.values())


def test_generic_primitives_route_to_ppl():
    with pyro_backend("ppl"):
        assert pyro.sample is ppl.sample and pyro.plate is ppl.plate
        assert pyro.get_param_store() is ppl.get_param_store()
        assert handlers.trace is ppl.handlers.trace


def _reference_models():
    # pyroapi.testing wraps each model in the *current* backend's seed handler
    # when first imported, so it must be imported under the "ppl" backend.
    with pyro_backend("ppl"):
        from pyroapi.testing import MODELS

    return MODELS


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_reference_models_trace_with_validation(name):
    _require_families(name)
    with pyro_backend("ppl"), ppl.validation_enabled(True):
        spec = _reference_models()[name]()
        model = spec["model"]
        args, kwargs = spec.get("model_args", ()), spec.get("model_kwargs", {})
        tr = handlers.trace(model).get_trace(*args, **kwargs)
        assert torch.isfinite(tr.log_prob_sum())
    for site_name in tr.stochastic_nodes + tr.observation_nodes:
        site = tr.nodes[site_name]
        expected = site["fn"].log_prob(site["value"])
        assert torch.allclose(site["unscaled_log_prob"], expected)


def test_reference_model_shapes():
    _require_families("beta_binomial", "eight_schools")
    with pyro_backend("ppl"):
        models = _reference_models()
        spec = models["beta_binomial"]()
        tr = handlers.trace(spec["model"]).get_trace(*spec["model_args"], **spec["model_kwargs"])
        assert tr.nodes["probs"]["value"].shape == (2, 2)
        assert tr.nodes["binomial"]["fn"].batch_shape == (10, 2, 2)
        assert [f.name for f in tr.nodes["binomial"]["cond_indep_stack"]] == [
            "plate_0",
            "plate_1",
            "data",
        ]
        spec = models["eight_schools"]()
        tr = handlers.trace(spec["model"]).get_trace(*spec["model_args"], **spec["model_kwargs"])
        assert tr.nodes["theta"]["value"].shape == (8,)
        assert tr.observation_nodes == ["obs"]
