"""Runtime benchmarks: the per-site cost of ``ppl.sample`` with and without a trace.

Each case runs a model of ten scalar Normal sites. ``hand`` draws the same ten
values with ``rsample`` directly (the floor for the no-handler fast path);
``pyro`` runs the same model in Pyro when it is installed.
"""

import torch

import distributions as dist
import ppl
from benchmarks.harness import Case

__all__ = ["cases"]

SITES = 10


def _ours_model():
    x = torch.tensor(0.0)
    for i in range(SITES):
        x = ppl.sample(f"x{i}", dist.Normal(x, 1.0))
    return x


def _hand_model():
    x = torch.tensor(0.0)
    for _ in range(SITES):
        x = dist.Normal(x, 1.0).rsample()
    return x


def _pyro_peers():
    try:
        import pyro
        import pyro.distributions as pdist
        from pyro import poutine
    except ImportError:
        return None

    def model():
        x = torch.tensor(0.0)
        for i in range(SITES):
            x = pyro.sample(f"x{i}", pdist.Normal(x, 1.0))
        return x

    return model, lambda: poutine.trace(model).get_trace()


def _eight_schools():
    sigma = torch.tensor([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
    y = torch.tensor([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])

    def model():
        mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
        tau = ppl.sample("tau", dist.Normal(0.0, 5.0)).abs()
        with ppl.plate("J", 8):
            theta = ppl.sample("theta", dist.Normal(mu, tau))
            ppl.sample("obs", dist.Normal(theta, sigma), obs=y)

    return lambda: ppl.handlers.trace(model).get_trace().log_prob_sum()


def cases():
    """Benchmark cases of the ppl runtime (per model of ten sites)."""
    pyro_model = _pyro_peers()
    no_handler = {"ours": _ours_model, "hand": _hand_model}
    traced = {"ours": lambda: ppl.handlers.trace(_ours_model).get_trace(), "hand": _hand_model}
    if pyro_model is not None:
        no_handler["pyro"] = pyro_model[0]
        traced["pyro"] = pyro_model[1]
    return [
        Case("ppl", f"{SITES} sample sites, no handler", no_handler),
        Case("ppl", f"{SITES} sample sites under trace", traced),
        Case("ppl", "eight schools: trace + log_prob_sum", {"ours": _eight_schools()}),
    ]
