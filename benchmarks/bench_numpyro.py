"""NumPyro's side of the NumPyro peer: a timing worker run by a jax interpreter.

Not a benchmark module of our interpreter (it imports jax, not torch): the
driver runs it as ``NUMPYRO_PYTHON benchmarks/bench_numpyro.py`` and talks to
it over stdin/stdout, one JSON object a line (see ``benchmarks/numpyro_peer.py``).
It builds the eight schools cases of ``bench_svi`` / ``bench_compile`` in
NumPyro: the same model, data, guide family (a hand-written mean-field guide,
and NumPyro's ``AutoNormal``), ``Trace_ELBO`` with one particle and Adam with
step size 0.01, stepped by ``jax.jit(svi.update)``. Each request
``{"case": name, "calls": n}`` is answered with the wall and CPU seconds of
``n`` updates timed inside this process (``{"wall": s, "cpu": s, "loss": last
loss}``), so the pipe costs nothing in the measurement. Every update waits for its loss
(``block_until_ready``), as our ``svi.step`` returns a Python float.

Run it with ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false`` and
``OMP_NUM_THREADS=1`` (the driver sets both, and ``JAX_PLATFORMS=cpu``) for one
thread like the torch side.
"""

import json
import sys
import time

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro.infer import SVI, Trace_ELBO
from numpyro.infer.autoguide import AutoNormal
from numpyro.optim import Adam

__all__ = ["CASES", "make_update", "serve"]

SIGMA = jnp.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
Y = jnp.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])


def eight_schools(sigma, y):
    """Non-centred eight schools, as in ``benchmarks/bench_svi.py``."""
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    log_tau = numpyro.sample("log_tau", dist.Normal(0.0, 1.0))
    with numpyro.plate("schools", 8):
        raw = numpyro.sample("theta_raw", dist.Normal(0.0, 1.0))
        numpyro.sample("obs", dist.Normal(mu + jnp.exp(log_tau) * raw, sigma), obs=y)


def mean_field(sigma, y):
    """The hand-written mean-field guide of ``bench_svi``: the same parameters and inits."""
    positive = dist.constraints.positive
    for name in ("mu", "log_tau"):
        loc = numpyro.param(f"{name}_loc", jnp.array(0.0))
        scale = numpyro.param(f"{name}_scale", jnp.array(1.0), constraint=positive)
        numpyro.sample(name, dist.Normal(loc, scale))
    with numpyro.plate("schools", 8):
        loc = numpyro.param("raw_loc", jnp.zeros(8))
        scale = numpyro.param("raw_scale", jnp.ones(8), constraint=positive)
        numpyro.sample("theta_raw", dist.Normal(loc, scale))


CASES = {
    "eight schools, mean-field guide": lambda: mean_field,
    "eight schools, AutoNormal": lambda: AutoNormal(eight_schools),
}


def make_update(case, seed=0):
    """A zero-argument function taking one jitted ``svi.update`` step of ``case``; warmed up."""
    svi = SVI(eight_schools, CASES[case](), Adam(0.01), Trace_ELBO())
    state = svi.init(jax.random.PRNGKey(seed), SIGMA, Y)
    update = jax.jit(svi.update)
    box = {"state": state, "loss": None}

    def step():
        box["state"], loss = update(box["state"], SIGMA, Y)
        box["loss"] = loss.block_until_ready()

    for _ in range(3):  # the first call compiles; the next ones settle the caches
        step()
    return step, box


def _time(step, calls):
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        step()
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def serve(lines=sys.stdin, out=sys.stdout):
    """Answers timing requests until stdin closes; says ``ready`` once the cases are built."""
    steps = {case: make_update(case) for case in CASES}
    print(json.dumps({"ready": list(CASES), "numpyro": numpyro.__version__}), file=out, flush=True)
    for line in lines:
        request = json.loads(line)
        step, box = steps[request["case"]]
        reply = {**_time(step, request["calls"]), "loss": float(box["loss"])}
        print(json.dumps(reply), file=out, flush=True)


if __name__ == "__main__":
    serve()
