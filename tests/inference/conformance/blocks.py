"""Building blocks of the conformance programs: small model/guide fragments.

Each builder ``build_<kind>(p, variant, ctx)`` returns a :class:`Block`: a
model fragment and a guide fragment over their own sites (every name starts
with the prefix ``p``), which a program runs one after another. Blocks share
no sites and no data flow, so a program's exact ELBO is the sum of its
blocks' ELBOs, each enumerated on its own (:mod:`.oracle`), while the
estimators see one program with every cross-block cost to credit.

Every fragment takes one argument ``arg`` (the program's argument; only the
``data_flow`` block reads it) and runs with or without the vectorized particle
plate of ``vectorize_particles=True``: latents keep their batch dims on the
left, data sit on the right.

Numbers are float64 so that Monte Carlo means can be compared with the
oracle at tight tolerances; every site's numbers come from ``ctx.rng``.
"""

import contextlib
from dataclasses import dataclass, field

import torch

import distributions as dist
import ppl
from distributions import constraints

__all__ = [
    "BUILDERS",
    "Block",
    "BuildContext",
    "CenteredNormal",
    "NonReparamNormal",
    "f64",
    "logits_param",
    "uniform",
]


def f64(x):
    """A float64 tensor."""
    return torch.as_tensor(x, dtype=torch.float64)


class NonReparamNormal(dist.Normal):
    """A Normal without ``rsample``: forces the score-function path on a continuous site."""

    has_rsample = False

    def sample(self, sample_shape=torch.Size()):
        with torch.no_grad():
            return dist.Normal.rsample(self, sample_shape)

    def rsample(self, sample_shape=torch.Size()):
        raise RuntimeError("NonReparamNormal has no reparameterized sampler; use sample()")


class CenteredNormal(dist.Normal):
    """A unit Normal whose location is stored as ``center`` (not ``loc``)."""

    def __init__(self, center, validate_args=None):
        self.center = center
        super().__init__(torch.zeros_like(center), torch.ones_like(center), validate_args)

    def log_prob(self, value):
        return super().log_prob(value - self.center)


@dataclass
class BuildContext:
    """What a builder needs: random numbers and the baseline to attach.

    Attributes:
        rng: a seeded ``random.Random``.
        infer: ``site name -> infer dict`` for non-reparameterized guide sites.
    """

    rng: object
    infer: object


@dataclass
class Block:
    """One fragment of a program.

    Attributes:
        model: ``model(arg)``.
        guide: ``guide(arg)``.
        mean_field: guide sites independent, and each latent's mask and scale
            equal in model and guide (``TraceMeanField_ELBO`` is valid).
        vectorizable: runs under the vectorized particle plate (no Python
            control flow on latent values).
        escapes: sites whose values leave torch (``.item()``, ``if z:``, ...).
        oracle: ``oracle(arg) -> exact ELBO`` when enumeration cannot do it.
    """

    model: object
    guide: object
    mean_field: bool = True
    vectorizable: bool = True
    escapes: frozenset = field(default_factory=frozenset)
    oracle: object = None


def uniform(ctx, lo, hi):
    """A number drawn uniformly from ``[lo, hi]`` by the block's seeded rng."""
    return ctx.rng.uniform(lo, hi)


def logits_param(name, ctx, shape=()):
    """A function reading the parameter ``name``, created with seeded logits in [-1, 1]."""
    init = f64([uniform(ctx, -1.0, 1.0) for _ in range(torch.Size(shape).numel())]).reshape(shape)
    return lambda: ppl.param(name, init)


def _bern_obs(name, z, x):
    ppl.sample(name, dist.Normal(2 * z - 1, 1.0), obs=x)


# ---------------------------------------------------------------- discrete plates
def build_bernoulli_plate(p, variant, ctx):
    """A plate of Bernoulli latents with Normal likelihoods: vectorized, nested,
    sequential or subsampled."""
    prior = f64(uniform(ctx, 0.2, 0.8))
    if variant == "subsampled":
        return _subsampled_plate(p, ctx, prior)
    shape = {"vectorized": (3,), "nested": (2, 2), "sequential": (2,)}[variant]
    data = f64([uniform(ctx, -2, 2) for _ in range(torch.Size(shape).numel())]).reshape(shape)
    logits = logits_param(f"{p}l", ctx, shape)
    if variant == "sequential":
        return _sequential_plate(p, ctx, prior, data, logits)
    return _tensor_plates(p, ctx, prior, data, logits, variant == "nested")


def _subsampled_plate(p, ctx, prior):
    data = f64([uniform(ctx, -2, 2) for _ in range(4)])
    logits = logits_param(f"{p}l", ctx, (4,))

    def model(arg):
        with ppl.plate(f"{p}d", 4, subsample_size=2) as idx:
            z = ppl.sample(f"{p}z", dist.Bernoulli(prior))
            _bern_obs(f"{p}x", z, data[idx])

    def guide(arg):
        lg = logits()
        with ppl.plate(f"{p}d", 4, subsample_size=2) as idx:
            ppl.sample(f"{p}z", dist.Bernoulli(logits=lg[idx]), infer=ctx.infer(f"{p}z"))

    return Block(model, guide)


def _sequential_plate(p, ctx, prior, data, logits):
    def model(arg):
        for i in ppl.plate(f"{p}s", 2):
            _bern_obs(f"{p}x{i}", ppl.sample(f"{p}z{i}", dist.Bernoulli(prior)), data[i])

    def guide(arg):
        lg = logits()
        for i in ppl.plate(f"{p}s", 2):
            site = f"{p}z{i}"
            ppl.sample(site, dist.Bernoulli(logits=lg[i]), infer=ctx.infer(site))

    return Block(model, guide)


def _tensor_plates(p, ctx, prior, data, logits, nested):
    def plates(stack):
        if nested:
            stack.enter_context(ppl.plate(f"{p}o", 2, dim=-2))
            stack.enter_context(ppl.plate(f"{p}i", 2, dim=-1))
        else:
            stack.enter_context(ppl.plate(f"{p}v", 3, dim=-1))

    def model(arg):
        with contextlib.ExitStack() as stack:
            plates(stack)
            _bern_obs(f"{p}x", ppl.sample(f"{p}z", dist.Bernoulli(prior)), data)

    def guide(arg):
        lg = logits()
        with contextlib.ExitStack() as stack:
            plates(stack)
            ppl.sample(f"{p}z", dist.Bernoulli(logits=lg), infer=ctx.infer(f"{p}z"))

    return Block(model, guide)


# ------------------------------------------------------------ Markov chain
def build_markov_chain(p, variant, ctx):
    """A chain of 2-3 categoricals (3 values) with Normal emissions.

    ``mean_field``: independent guide factors; ``chained``: the guide follows
    the chain, ``q(z_t | z_{t-1})``.
    """
    length = 3 if ctx.rng.random() < 0.5 else 2
    trans = torch.softmax(f64([[uniform(ctx, -1, 1) for _ in range(3)] for _ in range(3)]), -1)
    locs = f64([-1.5, 0.0, 1.5])
    data = [f64(uniform(ctx, -2, 2)) for _ in range(length)]
    shape = (length, 3) if variant == "mean_field" else (length, 3, 3)
    logits = logits_param(f"{p}l", ctx, shape)

    def model(arg):
        z = torch.tensor(0)
        for t in range(length):
            z = ppl.sample(f"{p}z{t}", dist.Categorical(trans[z]))
            ppl.sample(f"{p}x{t}", dist.Normal(locs[z], 1.0), obs=data[t])

    def guide(arg):
        lg = logits()
        z = torch.tensor(0)
        for t in range(length):
            row = lg[t] if variant == "mean_field" else lg[t][z]
            z = ppl.sample(f"{p}z{t}", dist.Categorical(logits=row), infer=ctx.infer(f"{p}z{t}"))

    return Block(model, guide, mean_field=variant == "mean_field")


# ------------------------------------------------------------- continuous
def build_normal(p, variant, ctx):
    """Normal prior, Normal likelihood, Normal guide; reparameterized or not, scalar or
    a plate of two."""
    shape = (2,) if variant.endswith("plate") else ()
    family = NonReparamNormal if variant.startswith("score") else dist.Normal
    n = 2 if shape else 1
    loc0 = f64([uniform(ctx, -1, 1) for _ in range(n)]).reshape(shape)
    s0 = f64(uniform(ctx, 0.5, 1.2))
    data = f64([uniform(ctx, -2, 2) for _ in range(n)]).reshape(shape)

    def body(site):
        if shape:
            with ppl.plate(f"{p}v", 2, dim=-1):
                return site()
        return site()

    def model(arg):
        def site():
            z = ppl.sample(f"{p}z", dist.Normal(f64(0.3), 1.0))
            ppl.sample(f"{p}x", dist.Normal(z, 0.8), obs=data)

        body(site)

    def guide(arg):
        m = ppl.param(f"{p}m", loc0)
        s = ppl.param(f"{p}s", s0, constraint=constraints.positive)
        infer = ctx.infer(f"{p}z") if family is NonReparamNormal else {}
        body(lambda: ppl.sample(f"{p}z", family(m, s), infer=infer))

    return Block(model, guide)


def build_bernoulli_normal(p, variant, ctx):
    """A Bernoulli -> Normal chain: ``b`` picks the mean of ``z``; the guide's ``z`` depends
    on ``b`` (``reparam``) or is a score-function site too (``score``)."""
    family = NonReparamNormal if variant == "score" else dist.Normal
    x = f64(uniform(ctx, -2, 2))
    m0 = f64([uniform(ctx, -1, 1), uniform(ctx, -1, 1)])
    logit = logits_param(f"{p}l", ctx)

    def model(arg):
        b = ppl.sample(f"{p}b", dist.Bernoulli(f64(0.4)))
        z = ppl.sample(f"{p}z", dist.Normal(2 * b - 1, 1.0))
        ppl.sample(f"{p}x", dist.Normal(z, 1.0), obs=x)

    def guide(arg):
        m = ppl.param(f"{p}m", m0)
        b = ppl.sample(f"{p}b", dist.Bernoulli(logits=logit()), infer=ctx.infer(f"{p}b"))
        infer = ctx.infer(f"{p}z") if family is NonReparamNormal else {}
        ppl.sample(f"{p}z", family(m[b.long()], 0.9), infer=infer)

    return Block(model, guide, mean_field=False)


def build_dirichlet(p, variant, ctx):
    """A guide-side Dirichlet for categorical data; closed-form oracle."""
    data = torch.tensor([ctx.rng.randrange(3) for _ in range(5)])
    prior = f64([1.5, 1.0, 2.0])
    init = f64([uniform(ctx, 0.8, 2.5) for _ in range(3)])

    def model(arg):
        theta = ppl.sample(f"{p}t", dist.Dirichlet(prior))
        with ppl.plate(f"{p}n", 5, dim=-1):
            ppl.sample(f"{p}x", dist.Categorical(theta), obs=data)

    def guide(arg):
        conc = ppl.param(f"{p}c", init, constraint=constraints.positive)
        ppl.sample(f"{p}t", dist.Dirichlet(conc))

    def oracle(arg):
        conc = ppl.param(f"{p}c", init, constraint=constraints.positive)
        kl = dist.kl_divergence(dist.Dirichlet(conc), dist.Dirichlet(prior))
        # E[log theta_k] under Dirichlet(c) is digamma(c_k) - digamma(sum c).
        expected_log = torch.special.digamma(conc) - torch.special.digamma(conc.sum())
        return expected_log[data].sum() - kl

    return Block(model, guide, oracle=oracle)


BUILDERS = {
    "bernoulli_plate": (
        build_bernoulli_plate,
        ["vectorized", "nested", "sequential", "subsampled"],
    ),
    "markov_chain": (build_markov_chain, ["mean_field", "chained"]),
    "normal": (build_normal, ["reparam", "score", "reparam_plate", "score_plate"]),
    "bernoulli_normal": (build_bernoulli_normal, ["reparam", "score"]),
    "dirichlet": (build_dirichlet, ["reparam"]),
}
