"""Compiled SVI steps (issue 14): a ``Jit*`` estimator's step against its eager estimator.

Cases (``ours`` is the compiled step, ``base`` the eager step of the same
estimator, same model, same optimizer, in one process): eight schools with a
hand-written mean-field guide under ``JitTraceMeanField_ELBO`` and
``JitTrace_ELBO``, eight schools with ``AutoNormal``, the discrete latent
plate(100) of ``bench_svi`` under ``JitTraceGraph_ELBO``, and a VAE
(784-400-20, batch 128, Bernoulli pixels) under ``JitTrace_ELBO``. Each
compiled peer takes its eager warm-up step and its compiling step when the
case is built, so the timed steps are the steady state; that build, with
inductor's on-disk cache off, is the first compile ``tables()`` reports.

Quick mode, for a rerun on idle cores: ``python -m benchmarks.bench_compile``
prints both tables (a few minutes; ``--rounds`` trades time for noise).
"""

import argparse
import contextlib
import os
import tempfile
import time

import torch

import ppl
from benchmarks import eight_schools
from benchmarks.harness import Case, format_table, run_cases
from distributions import Bernoulli, Normal
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


def _discrete(data):
    with ppl.plate("data", len(data)):
        z = ppl.sample("z", Bernoulli(0.3))
        ppl.sample("x", Normal(2.0 * z, 1.0), obs=data)


def _discrete_guide(data):
    logits = ppl.param("logits", torch.zeros(len(data)))
    with ppl.plate("data", len(data)):
        ppl.sample("z", Bernoulli(logits=logits))


class _Coder(torch.nn.Module):
    def __init__(self, sizes, out_scale):
        super().__init__()
        self.hidden = torch.nn.Linear(sizes[0], sizes[1])
        self.out = torch.nn.Linear(sizes[1], sizes[2] * out_scale)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x)))


def _vae():
    encoder, decoder = _Coder((784, 400, 20), 2), _Coder((20, 400, 784), 1)

    def model(x):
        ppl.module("decoder", decoder)
        with ppl.plate("batch", x.shape[0]):
            z = ppl.sample("z", Normal(torch.zeros(20), 1.0).to_event(1))
            ppl.sample("x", Bernoulli(logits=decoder(z)).to_event(1), obs=x)

    def guide(x):
        ppl.module("encoder", encoder)
        with ppl.plate("batch", x.shape[0]):
            out = encoder(x)
            ppl.sample("z", Normal(out[..., :20], out[..., 20:].exp()).to_event(1))

    return model, guide


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


_PIXELS = torch.bernoulli(torch.full((128, 784), 0.3), generator=torch.Generator().manual_seed(0))
_DATA = (eight_schools.SIGMA, eight_schools.Y)
_SCHOOLS = (eight_schools.model, eight_schools.mean_field, _DATA)
_CASES = (
    ("eight schools, mean-field guide", *_SCHOOLS, "MeanField"),
    ("eight schools, mean-field guide", *_SCHOOLS, "Trace"),
    ("eight schools, AutoNormal", eight_schools.model, "AutoNormal", _DATA, "Trace"),
    ("discrete plate(100)", _discrete, _discrete_guide, (torch.randn(100),), "TraceGraph"),
    ("VAE 784-400-20, batch 128", "vae", None, (_PIXELS,), "Trace"),
)
_FIRST_COMPILE = {}
_ELBOS = {
    "MeanField": (JitTraceMeanField_ELBO, TraceMeanField_ELBO),
    "Trace": (JitTrace_ELBO, Trace_ELBO),
    "TraceGraph": (JitTraceGraph_ELBO, TraceGraph_ELBO),
}


def _program(model, guide):
    # Each peer gets its own modules (a VAE's parameters are its modules').
    return _vae() if model == "vae" else (model, guide)


@contextlib.contextmanager
def _cold_inductor():
    # A fresh cache directory: kernels compiled by an earlier run (inductor keeps
    # their shared objects on disk, by source hash) are not found again.
    before = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    with tempfile.TemporaryDirectory() as fresh:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = fresh
        try:
            with torch._inductor.config.patch(fx_graph_cache=False):
                yield
        finally:
            if before is None:
                os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
            else:
                os.environ["TORCHINDUCTOR_CACHE_DIR"] = before


def _first_compile(model, guide, jit_cls, args):
    with _cold_inductor():
        start = time.perf_counter()
        step = _stepper(*_program(model, guide), jit_cls(), args)
        return step, time.perf_counter() - start


def cases():
    """One case per model and estimator: the compiled step (ours) vs the eager one (base)."""
    out = []
    for title, model, guide, args, kind in _CASES:
        jit_cls, eager_cls = _ELBOS[kind]
        name = f"{title}, {jit_cls.__name__} step"
        ours, _FIRST_COMPILE[name] = _first_compile(model, guide, jit_cls, args)
        peers = {"ours": ours, "base": _stepper(*_program(model, guide), eager_cls(), args)}
        out.append(Case("compile", name, peers))
    return out


def tables(draws=None):
    """The first compile of each case: eager warm-up step plus capture and compilation, seconds."""
    if not _FIRST_COMPILE:
        cases()
    rows = ["| case | first compile (s) |", "|---|---|"]
    rows += [f"| {name} | {seconds:.1f} |" for name, seconds in _FIRST_COMPILE.items()]
    note = (
        "\n\nWarm-up step, capture and inductor compilation, with inductor's graph "
        "cache off and a fresh kernel cache directory (kernels compiled earlier in the "
        "same process are still reused). Measured on a shared machine: other jobs add time."
    )
    return [("compile: first step", "\n".join(rows) + note)]


def main(argv=None):
    """Quick mode: the compiled/eager table and the first-compile table, printed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds per case")
    args = parser.parse_args(argv)
    results = run_cases(cases(), rounds=args.rounds)
    print(format_table(results, peers=("base",)))
    for title, markdown in tables():
        print(f"\n{title}\n\n{markdown}")


if __name__ == "__main__":
    main()
