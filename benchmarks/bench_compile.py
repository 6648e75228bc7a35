"""Compiled SVI steps (issue 14): a ``Jit*`` estimator's step against its eager estimator.

Cases (``ours`` is the compiled step, ``base`` the eager step of the same
estimator, same model, same optimizer, in one process): eight schools with a
hand-written mean-field guide under ``JitTraceMeanField_ELBO`` and
``JitTrace_ELBO``, eight schools with ``AutoNormal``, and the discrete latent
plate(100) of ``bench_svi`` under ``JitTraceGraph_ELBO``. Each compiled peer
takes its eager warm-up step and its compiling step when the case is built,
so the timed steps are the steady state. ``tables()`` reports the first
compile (warm-up plus compiling step) with inductor's on-disk cache off.
"""

import time

import torch

import ppl
from benchmarks.harness import Case
from distributions import Bernoulli, Normal, constraints
from inference import (
    SVI,
    JitTrace_ELBO,
    JitTraceGraph_ELBO,
    JitTraceMeanField_ELBO,
    Trace_ELBO,
    TraceGraph_ELBO,
    TraceMeanField_ELBO,
)
from inference.autoguide import AutoNormal
from inference.optim import Adam

__all__ = ["cases", "tables"]

SIGMA = torch.tensor([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
Y = torch.tensor([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])


def _eight_schools(sigma, y):
    mu = ppl.sample("mu", Normal(0.0, 5.0))
    log_tau = ppl.sample("log_tau", Normal(0.0, 1.0))
    with ppl.plate("schools", 8):
        raw = ppl.sample("theta_raw", Normal(0.0, 1.0))
        ppl.sample("obs", Normal(mu + log_tau.exp() * raw, sigma), obs=y)


def _mean_field(sigma, y):
    for name in ("mu", "log_tau"):
        loc = ppl.param(f"{name}_loc", torch.tensor(0.0))
        scale = ppl.param(f"{name}_scale", torch.tensor(1.0), constraint=constraints.positive)
        ppl.sample(name, Normal(loc, scale))
    with ppl.plate("schools", 8):
        loc = ppl.param("raw_loc", torch.zeros(8))
        scale = ppl.param("raw_scale", torch.ones(8), constraint=constraints.positive)
        ppl.sample("theta_raw", Normal(loc, scale))


def _discrete(data):
    with ppl.plate("data", len(data)):
        z = ppl.sample("z", Bernoulli(0.3))
        ppl.sample("x", Normal(2.0 * z, 1.0), obs=data)


def _discrete_guide(data):
    logits = ppl.param("logits", torch.zeros(len(data)))
    with ppl.plate("data", len(data)):
        ppl.sample("z", Bernoulli(logits=logits))


def _stepper(model, guide, elbo, args, warm_steps=2):
    """A zero-argument SVI step in its own parameter store, warmed up (and compiled)."""
    store = ppl.ParamStore()
    with ppl.param_store_scope(store):
        guide = AutoNormal(model) if guide == "AutoNormal" else guide
        svi = SVI(model, guide, Adam({"lr": 0.01}), elbo)
        for _ in range(warm_steps):
            svi.step(*args)

    def step():
        with ppl.param_store_scope(store):
            svi.step(*args)

    return step


_CASES = (
    ("eight schools, mean-field guide", _eight_schools, _mean_field, (SIGMA, Y), "MeanField"),
    ("eight schools, mean-field guide", _eight_schools, _mean_field, (SIGMA, Y), "Trace"),
    ("eight schools, AutoNormal", _eight_schools, "AutoNormal", (SIGMA, Y), "Trace"),
    ("discrete plate(100)", _discrete, _discrete_guide, (torch.randn(100),), "TraceGraph"),
)
_ELBOS = {
    "MeanField": (JitTraceMeanField_ELBO, TraceMeanField_ELBO),
    "Trace": (JitTrace_ELBO, Trace_ELBO),
    "TraceGraph": (JitTraceGraph_ELBO, TraceGraph_ELBO),
}


def cases():
    """One case per model and estimator: the compiled step (ours) vs the eager one (base)."""
    out = []
    for title, model, guide, args, kind in _CASES:
        jit_cls, eager_cls = _ELBOS[kind]
        peers = {
            "ours": _stepper(model, guide, jit_cls(), args),
            "base": _stepper(model, guide, eager_cls(), args),
        }
        out.append(Case("compile", f"{title}, {jit_cls.__name__} step", peers))
    return out


def _first_compile(model, guide, jit_cls, args):
    with torch._inductor.config.patch(fx_graph_cache=False):
        torch._dynamo.reset()
        start = time.perf_counter()
        _stepper(model, guide, jit_cls(), args)
        return time.perf_counter() - start


def tables(draws=None):
    """The first compile of each case: eager warm-up step plus compiling step, seconds."""
    rows = ["| case | first compile (s) |", "|---|---|"]
    for title, model, guide, args, kind in _CASES:
        jit_cls = _ELBOS[kind][0]
        seconds = _first_compile(model, guide, jit_cls, args)
        rows.append(f"| {title}, {jit_cls.__name__} | {seconds:.1f} |")
    note = (
        "\n\nInductor's on-disk graph cache off; dynamo reset before each. "
        "Measured on a shared machine: other jobs add time."
    )
    return [("compile: first step", "\n".join(rows) + note)]
