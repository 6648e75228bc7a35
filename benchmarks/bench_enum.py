"""Enumeration benchmarks: one TraceEnum_ELBO SVI step on our backend and Pyro's.

Cases: the discrete plate(100) model of ``bench_svi`` with its assignments
enumerated in the model (empty guide), a 3-state HMM of length 100 under
``markov``, and the same HMM at length 1000 against length 100 of our own
(time per step should grow linearly in T; memory does not grow, since markov
recycles the two enumeration dims). Models are written once against pyroapi,
so both libraries run identical code; Pyro peers are skipped when
``pyro-ppl`` is not installed.
"""

import torch
from pyroapi import distributions as pdist
from pyroapi import infer, optim, pyro, pyro_backend

import ppl  # noqa: F401  (registers the "ppl" backend)
from benchmarks.harness import Case

__all__ = ["cases"]

TRANS = torch.tensor([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])


def _mixture(data):
    locs = pyro.param("locs", torch.tensor([-1.0, 0.0, 1.0]))
    with pyro.plate("data", len(data)):
        z = pyro.sample("z", pdist.Categorical(torch.ones(3) / 3))
        pyro.sample("x", pdist.Normal(locs[z], 1.0), obs=data)


def _hmm(ys):
    locs = pyro.param("locs", torch.tensor([-1.0, 0.0, 1.0]))
    x = 0
    for t in pyro.markov(range(len(ys))):
        x = pyro.sample(f"x_{t}", pdist.Categorical(TRANS[x]))
        pyro.sample(f"y_{t}", pdist.Normal(locs[x], 1.0), obs=ys[t])


def _empty_guide(data):
    return None


def _stepper(backend, model, data, max_plate_nesting):
    """A zero-argument function taking one SVI step with TraceEnum_ELBO on ``backend``."""
    with pyro_backend(backend):
        pyro.clear_param_store()
        enumerated = infer.config_enumerate(model, default="parallel")
        elbo = infer.TraceEnum_ELBO(max_plate_nesting=max_plate_nesting)
        svi = infer.SVI(enumerated, _empty_guide, optim.Adam({"lr": 0.01}), elbo)

    def step():
        with pyro_backend(backend):
            svi.step(data)

    return step


def _pyro_available():
    try:
        import pyro as real_pyro  # noqa: F401
    except ImportError:
        print("bench_enum: pyro-ppl is not installed; Pyro peers skipped")
        return False
    return True


def _case(name, model, data, nesting, with_pyro):
    peers = {"ours": _stepper("ppl", model, data, nesting)}
    if with_pyro:
        peers["pyro"] = _stepper("pyro", model, data, nesting)
    return Case("enum", name, peers)


def cases():
    """TraceEnum_ELBO step cases: discrete plate(100), HMM T=100, HMM T=1000 vs T=100."""
    generator = torch.Generator().manual_seed(0)
    with_pyro = _pyro_available()
    data = torch.randn(100, generator=generator)
    ys = torch.randn(1000, generator=generator)
    out = [
        _case("discrete plate(100), TraceEnum_ELBO step", _mixture, data, 1, with_pyro),
        _case("HMM T=100, 3 states, TraceEnum_ELBO step", _hmm, ys[:100], 0, with_pyro),
    ]
    growth = {
        "ours": _stepper("ppl", _hmm, ys, 0),
        "base": _stepper("ppl", _hmm, ys[:100], 0),
    }
    out.append(Case("enum", "HMM T=1000 (base: our T=100), TraceEnum_ELBO step", growth))
    return out
