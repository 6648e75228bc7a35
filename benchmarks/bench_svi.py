"""SVI benchmarks: one step of the same model code on our backend and Pyro's.

Cases: eight schools (a hand-written mean-field guide, and each backend's
own ``AutoNormal``), logistic regression (N=3000, D=10), a VAE (784-400-20,
batch 128, random binary data: a timing case only) and a discrete latent
plate(100). Models are written once against pyroapi (``pyro_backend("ppl")`` vs
``pyro_backend("pyro")``), so both libraries run identical code. Pyro peers
are skipped when ``pyro-ppl`` is not installed. The ELBO-variant cases compare
our estimators with each other (``base`` is our Trace_ELBO with one particle).

The mean-field eight-schools case also has a ``hand`` peer: the same step
(one-particle reparameterized ELBO, the same parameterization and Adam)
written in plain torch, the floor for the runtime's overhead; and one case
times that step with validation on (``ours``) against off (``base``).
"""

import math
from contextlib import contextmanager

import torch
from pyroapi import distributions as pdist
from pyroapi import infer, optim, pyro, pyro_backend
from pyroapi.dispatch import _ALIASES, GenericModule

import ppl  # registers the "ppl" backend
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


_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _normal_log_prob(x, loc, scale):
    z = (x - loc) / scale
    return -0.5 * z * z - torch.log(scale) - _HALF_LOG_2PI


def _hand_eight_schools_step(sigma, y):
    """The mean-field Trace_ELBO step of eight schools in plain torch (scales as exp(raw))."""
    shapes = {"mu": (), "log_tau": (), "raw": (8,)}
    locs = {k: torch.zeros(s, requires_grad=True) for k, s in shapes.items()}
    raw_scales = {k: torch.zeros(s, requires_grad=True) for k, s in shapes.items()}
    optimizer = torch.optim.Adam([*locs.values(), *raw_scales.values()], lr=0.01)
    zero, one, five = torch.tensor(0.0), torch.tensor(1.0), torch.tensor(5.0)

    def step():
        optimizer.zero_grad()
        scales = {k: v.exp() for k, v in raw_scales.items()}
        z = {k: locs[k] + scales[k] * torch.randn(shapes[k]) for k in shapes}
        log_q = sum(_normal_log_prob(z[k], locs[k], scales[k]).sum() for k in shapes)
        log_p = (
            _normal_log_prob(z["mu"], zero, five)
            + _normal_log_prob(z["log_tau"], zero, one)
            + _normal_log_prob(z["raw"], zero, one).sum()
            + _normal_log_prob(y, z["mu"] + z["log_tau"].exp() * z["raw"], sigma).sum()
        )
        loss = log_q - log_p
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def _logistic(x, y):
    w = pyro.sample("w", pdist.Normal(torch.zeros(x.shape[1]), 1.0).to_event(1))
    b = pyro.sample("b", pdist.Normal(0.0, 5.0))
    with pyro.plate("data", x.shape[0]):
        pyro.sample("y", pdist.Bernoulli(logits=x @ w + b), obs=y)


def _logistic_guide(x, y):
    positive, dim = pdist.constraints.positive, x.shape[1]
    w_loc = pyro.param("w_loc", torch.zeros(dim))
    w_scale = pyro.param("w_scale", torch.ones(dim), constraint=positive)
    pyro.sample("w", pdist.Normal(w_loc, w_scale).to_event(1))
    b_loc = pyro.param("b_loc", torch.tensor(0.0))
    b_scale = pyro.param("b_scale", torch.tensor(1.0), constraint=positive)
    pyro.sample("b", pdist.Normal(b_loc, b_scale))


def _logistic_data(n=3000, dim=10):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, dim, generator=generator)
    w = torch.randn(dim, generator=generator)
    y = torch.bernoulli(torch.sigmoid(x @ w), generator=generator)
    return x, y


class _VAE:
    """Encoder and decoder (784-400-20) shared by the model and guide of one backend."""

    def __init__(self, hidden=400, latent=20):
        nn = torch.nn
        with torch.random.fork_rng():
            torch.manual_seed(0)  # the same initial weights on both backends
            self.encoder = nn.Sequential(
                nn.Linear(784, hidden), nn.Softplus(), nn.Linear(hidden, 2 * latent)
            )
            self.decoder = nn.Sequential(
                nn.Linear(latent, hidden), nn.Softplus(), nn.Linear(hidden, 784)
            )
        self.latent = latent

    def model(self, x):
        pyro.module("decoder", self.decoder)
        with pyro.plate("batch", x.shape[0]):
            prior = pdist.Normal(torch.zeros(x.shape[0], self.latent), 1.0).to_event(1)
            z = pyro.sample("z", prior)
            pyro.sample("x", pdist.Bernoulli(logits=self.decoder(z)).to_event(1), obs=x)

    def guide(self, x):
        pyro.module("encoder", self.encoder)
        loc, raw_scale = self.encoder(x).chunk(2, -1)
        with pyro.plate("batch", x.shape[0]):
            scale = torch.nn.functional.softplus(raw_scale) + 1e-3
            pyro.sample("z", pdist.Normal(loc, scale).to_event(1))


def _discrete(data):
    with pyro.plate("data", len(data)):
        z = pyro.sample("z", pdist.Bernoulli(0.3))
        pyro.sample("x", pdist.Normal(2.0 * z, 1.0), obs=data)


def _discrete_guide(data):
    logits = pyro.param("logits", torch.zeros(len(data)))
    with pyro.plate("data", len(data)):
        pyro.sample("z", pdist.Bernoulli(logits=logits))


def _validation_off():
    # Entered around each timed batch of the validation-off peer: switching per
    # call would time the switch (~8 us, a tenth of what validation costs).
    return ppl.validation_enabled(False)


def _stepper(backend, model, guide, elbo_name, args, **elbo_kwargs):
    """A zero-argument function taking one SVI step on ``backend``.

    ``guide`` may be ``"AutoNormal"``: the backend's own autoguide of ``model``.
    """
    with pyro_backend(backend):
        pyro.clear_param_store()
        if guide == "AutoNormal":
            guide = infer.autoguide.AutoNormal(model)
        elbo = getattr(infer, elbo_name)(**elbo_kwargs)
        svi = infer.SVI(model, guide, optim.Adam({"lr": 0.01}), elbo)
        svi.step(*args)

    def step():
        with _switch_to(backend):
            svi.step(*args)

    return step


@contextmanager
def _switch_to(backend):
    """pyroapi's ``pyro_backend`` without the ``handlers.seed(0)`` it also enters.

    That seed handler reseeds every generator on entry (about 1 ms in torch
    2.13, whose ``torch.manual_seed`` formats a stack trace for each lazily
    seeded accelerator), so a step timed inside it mostly times the seeding,
    and every step would draw the same noise.
    """
    current = GenericModule.current_backend
    old = dict(current)
    current.update(_ALIASES[backend])
    try:
        yield
    finally:
        current.update(old)


def _pyro_available():
    try:
        import pyro as _  # noqa: F401
    except ImportError:
        print("pyro-ppl is not installed: SVI cases run without the Pyro peer")
        return False
    return True


def _versus_pyro(name, model, guide, args, with_pyro, elbo_name="Trace_ELBO"):
    """A case timing one step of the same model and guide code on both backends."""
    peers = {"ours": _stepper("ppl", model, guide, elbo_name, args)}
    if with_pyro:
        peers["pyro"] = _stepper("pyro", model, guide, elbo_name, args)
    return Case("svi", name, peers)


def _vae_case(with_pyro, batch=128):
    x = torch.bernoulli(torch.full((batch, 784), 0.3), generator=torch.Generator().manual_seed(0))
    backends = ("ppl", "pyro") if with_pyro else ("ppl",)
    peers = {}
    for backend, label in zip(backends, ("ours", "pyro")):
        vae = _VAE()
        peers[label] = _stepper(backend, vae.model, vae.guide, "Trace_ELBO", (x,))
    return Case("svi", f"VAE 784-400-20, batch {batch}, Trace_ELBO step", peers)


def cases():
    """SVI step cases: eight schools, logistic regression, a VAE, a discrete latent plate(100)."""
    with_pyro = _pyro_available()
    schools = (SIGMA, Y)
    data = (torch.randn(100),)
    mean_field = _versus_pyro(
        "eight schools, mean-field guide, Trace_ELBO step",
        _eight_schools,
        _mean_field,
        schools,
        with_pyro,
    )
    mean_field.peers["hand"] = _hand_eight_schools_step(*schools)
    validation = {
        "ours": _stepper("ppl", _eight_schools, _mean_field, "Trace_ELBO", schools),
        "base": _stepper("ppl", _eight_schools, _mean_field, "Trace_ELBO", schools),
    }
    out = [
        mean_field,
        Case(
            "svi",
            "eight schools, mean-field guide: validation on (ours) vs off (base)",
            validation,
            contexts={"base": _validation_off},
        ),
        _versus_pyro(
            "eight schools, AutoNormal, Trace_ELBO step",
            _eight_schools,
            "AutoNormal",
            schools,
            with_pyro,
        ),
        _versus_pyro(
            "logistic regression N=3000 D=10, mean-field guide, Trace_ELBO step",
            _logistic,
            _logistic_guide,
            _logistic_data(),
            with_pyro,
        ),
        _vae_case(with_pyro),
    ]
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
