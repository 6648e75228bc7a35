"""Predictive benchmarks: 1000 posterior predictive samples, ours vs Pyro.

Models: eight schools and logistic regression (N=3000, D=10).
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


def _logistic(lib, d):
    def model(x, y=None):
        w = lib.sample("w", d.Normal(torch.zeros(x.shape[1]), 1.0).to_event(1))
        b = lib.sample("b", d.Normal(0.0, 5.0))
        with lib.plate("data", x.shape[0]):
            # x @ w would not broadcast over the leading sample dim of Pyro's parallel draws
            logits = (x @ w.unsqueeze(-1)).squeeze(-1) + b
            return lib.sample("y", d.Bernoulli(logits=logits), obs=y)

    return model


def _logistic_data(n=3000, dim=10):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, dim, generator=generator)
    y = torch.bernoulli(torch.sigmoid(x @ torch.randn(dim, generator=generator)))
    return x, y


def _predictive(model, guide_class, predictive_class, args):
    """``Predictive`` of ``model`` under an initialized autoguide; a zero-argument call."""
    guide = guide_class(model)
    guide(*args)
    predictive = predictive_class(model, guide=guide, num_samples=NUM_SAMPLES, parallel=True)
    return lambda: predictive(*args[:-1])


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


def _logistic_peers():
    data = _logistic_data()
    peers = {"ours": _predictive(_logistic(ppl, dist), AutoNormal, Predictive, data)}
    try:
        import pyro
        import pyro.distributions as pdist
        from pyro.infer import Predictive as PyroPredictive
        from pyro.infer.autoguide import AutoNormal as PyroAutoNormal
    except ImportError:
        return peers
    peers["pyro"] = _predictive(_logistic(pyro, pdist), PyroAutoNormal, PyroPredictive, data)
    return peers


def cases():
    """Predictive on eight schools and logistic regression; importance sampling on eight schools."""
    ours_predictive, ours_importance = _ours()
    peers = {"ours": ours_predictive}
    pyro_predictive = _pyro()
    if pyro_predictive is not None:
        peers["pyro"] = pyro_predictive
    importance = {"ours": ours_importance}
    return [
        Case("inference", f"eight schools: Predictive, {NUM_SAMPLES} samples, parallel", peers),
        Case("inference", f"eight schools: Importance, {NUM_SAMPLES} draws", importance),
        Case(
            "inference",
            f"logistic regression N=3000: Predictive, {NUM_SAMPLES} samples, parallel",
            _logistic_peers(),
        ),
    ]
