"""Predictive benchmarks: 1000 posterior predictive samples of eight schools, ours vs Pyro.

Both sides use an ``AutoNormal`` guide (already initialized) and
``Predictive(..., num_samples=1000, parallel=True)``. Ours vectorizes with
``torch.vmap``; Pyro with an outer plate. Also timed: importance sampling
with 1000 draws of the same model with the guide as proposal.
"""

import torch

import distributions as dist
import ppl
from benchmarks.harness import Case
from inference import Importance, Predictive
from inference.autoguide import AutoNormal

__all__ = ["cases"]

NUM_SAMPLES = 1000
SIGMA = torch.tensor([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
Y = torch.tensor([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])


def _eight_schools(lib, d):
    def model(sigma, y=None):
        mu = lib.sample("mu", d.Normal(0.0, 5.0))
        tau = lib.sample("tau", d.HalfCauchy(5.0))
        with lib.plate("schools", len(sigma)):
            theta_raw = lib.sample("theta_raw", d.Normal(0.0, 1.0))
            theta = lib.deterministic("theta", mu + tau * theta_raw)
            return lib.sample("obs", d.Normal(theta, sigma), obs=y)

    return model


def _ours():
    model = _eight_schools(ppl, dist)
    guide = AutoNormal(model)
    guide(SIGMA, Y)
    predictive = Predictive(model, guide=guide, num_samples=NUM_SAMPLES, parallel=True)
    importance = Importance(model, guide=guide, num_samples=NUM_SAMPLES)
    return (lambda: predictive(SIGMA)), (lambda: importance.run(SIGMA, Y))


def _pyro():
    try:
        import pyro
        import pyro.distributions as pdist
        from pyro.infer import Predictive as PyroPredictive
        from pyro.infer.autoguide import AutoNormal as PyroAutoNormal
    except ImportError:
        return None
    model = _eight_schools(pyro, pdist)
    guide = PyroAutoNormal(model)
    guide(SIGMA, Y)
    predictive = PyroPredictive(model, guide=guide, num_samples=NUM_SAMPLES, parallel=True)
    return lambda: predictive(SIGMA)


def cases():
    """Predictive and importance sampling on eight schools, 1000 samples each."""
    ours_predictive, ours_importance = _ours()
    peers = {"ours": ours_predictive}
    pyro_predictive = _pyro()
    if pyro_predictive is not None:
        peers["pyro"] = pyro_predictive
    importance = {"ours": ours_importance}
    return [
        Case("inference", f"eight schools: Predictive, {NUM_SAMPLES} samples, parallel", peers),
        Case("inference", f"eight schools: Importance, {NUM_SAMPLES} draws", importance),
    ]
