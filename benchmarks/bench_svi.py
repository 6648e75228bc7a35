"""SVI benchmarks: one step of the same model code on our backend and Pyro's.

Models are written once against pyroapi (``pyro_backend("ppl")`` vs
``pyro_backend("pyro")``), so both libraries run identical code. Pyro peers
are skipped when ``pyro-ppl`` is not installed. The ELBO-variant cases compare
our estimators with each other (``base`` is our Trace_ELBO with one particle).
"""

import torch
from pyroapi import distributions as pdist
from pyroapi import infer, optim, pyro, pyro_backend

import ppl  # noqa: F401  (registers the "ppl" backend)
from benchmarks.harness import Case

__all__ = ["cases"]

SIGMA = torch.tensor([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
Y = torch.tensor([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])


def _eight_schools(sigma, y):
    mu = pyro.sample("mu", pdist.Normal(0.0, 5.0))
    log_tau = pyro.sample("log_tau", pdist.Normal(0.0, 1.0))
    with pyro.plate("schools", 8):
        raw = pyro.sample("theta_raw", pdist.Normal(0.0, 1.0))
        pyro.sample("obs", pdist.Normal(mu + log_tau.exp() * raw, sigma), obs=y)


def _mean_field(sigma, y):
    positive = pdist.constraints.positive
    for name in ("mu", "log_tau"):
        loc = pyro.param(f"{name}_loc", torch.tensor(0.0))
        scale = pyro.param(f"{name}_scale", torch.tensor(1.0), constraint=positive)
        pyro.sample(name, pdist.Normal(loc, scale))
    with pyro.plate("schools", 8):
        loc = pyro.param("raw_loc", torch.zeros(8))
        scale = pyro.param("raw_scale", torch.ones(8), constraint=positive)
        pyro.sample("theta_raw", pdist.Normal(loc, scale))


def _discrete(data):
    with pyro.plate("data", len(data)):
        z = pyro.sample("z", pdist.Bernoulli(0.3))
        pyro.sample("x", pdist.Normal(2.0 * z, 1.0), obs=data)


def _discrete_guide(data):
    logits = pyro.param("logits", torch.zeros(len(data)))
    with pyro.plate("data", len(data)):
        pyro.sample("z", pdist.Bernoulli(logits=logits))


def _stepper(backend, model, guide, elbo_name, args, **elbo_kwargs):
    """A zero-argument function taking one SVI step on ``backend``."""
    with pyro_backend(backend):
        pyro.clear_param_store()
        elbo = getattr(infer, elbo_name)(**elbo_kwargs)
        svi = infer.SVI(model, guide, optim.Adam({"lr": 0.01}), elbo)
        svi.step(*args)

    def step():
        with pyro_backend(backend):
            svi.step(*args)

    return step


def _pyro_available():
    try:
        import pyro as _  # noqa: F401
    except ImportError:
        print("pyro-ppl is not installed: SVI cases run without the Pyro peer")
        return False
    return True


def cases():
    """SVI step cases: eight schools and a discrete latent plate(100)."""
    with_pyro = _pyro_available()
    schools = (SIGMA, Y)
    peers = {"ours": _stepper("ppl", _eight_schools, _mean_field, "Trace_ELBO", schools)}
    if with_pyro:
        peers["pyro"] = _stepper("pyro", _eight_schools, _mean_field, "Trace_ELBO", schools)
    data = (torch.randn(100),)
    out = [Case("svi", "eight schools, mean-field guide, Trace_ELBO step", peers)]
    for elbo_name in ("Trace_ELBO", "TraceGraph_ELBO"):
        peers = {"ours": _stepper("ppl", _discrete, _discrete_guide, elbo_name, data)}
        if with_pyro:
            peers["pyro"] = _stepper("pyro", _discrete, _discrete_guide, elbo_name, data)
        peers["base"] = _stepper("ppl", _discrete, _discrete_guide, "Trace_ELBO", data)
        out.append(Case("svi", f"discrete plate(100), {elbo_name} step", peers))
    ten = {
        "ours": _stepper(
            "ppl",
            _discrete,
            _discrete_guide,
            "Trace_ELBO",
            data,
            num_particles=10,
            vectorize_particles=True,
            max_plate_nesting=1,
        ),
        "base": _stepper("ppl", _discrete, _discrete_guide, "Trace_ELBO", data),
    }
    out.append(Case("svi", "discrete plate(100), 10 vectorized particles vs 1", ten))
    return out
