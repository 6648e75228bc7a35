"""Building blocks that exercise data flow: how a latent reaches a cost.

``deterministic`` pass-through, Python control flow on a latent (the value
leaves torch), distribution wrappers of every kind around a likelihood,
``mask``/``scale`` handlers and ``.mask()`` on model and guide sites,
``factor``, and data flow chosen by the program's argument (names and shapes
unchanged). See :mod:`.blocks` for the conventions.
"""

import torch

import distributions as dist
import ppl
from distributions.transforms import ExpTransform

from .blocks import Block, CenteredNormal, f64, logits_param, uniform

__all__ = ["FLOW_BUILDERS"]


def _bernoulli_guide(p, ctx, logit):
    def guide(arg):
        ppl.sample(f"{p}z", dist.Bernoulli(logits=logit()), infer=ctx.infer(f"{p}z"))

    return guide


def build_deterministic(p, variant, ctx):
    """``z -> deterministic y -> x`` (issue 13, case 1)."""
    prior, x = f64(uniform(ctx, 0.2, 0.8)), f64(uniform(ctx, -2, 2))

    def model(arg):
        z = ppl.sample(f"{p}z", dist.Bernoulli(prior))
        y = ppl.deterministic(f"{p}y", 2 * z - 1)
        ppl.sample(f"{p}x", dist.Normal(y, 1.0), obs=x)

    return Block(model, _bernoulli_guide(p, ctx, logits_param(f"{p}l", ctx)))


_LOCS = [-1.0, 0.5, 1.5]


def _control_flow_loc(variant, z):
    # Each way a latent's value can leave torch and steer plain Python code.
    if variant == "item":
        return 1.0 if z.item() == 1 else -1.0
    if variant == "if":
        return 1.0 if z else -1.0
    if variant == "int":
        return _LOCS[int(z)]
    if variant == "tolist":
        return _LOCS[int(z.tolist())]
    return _LOCS[z]  # "index": a long tensor used as a Python list index


def build_control_flow(p, variant, ctx):
    """The likelihood's location chosen by Python code on the latent (issue 13, case 2)."""
    x = f64(uniform(ctx, -2, 2))
    categorical = variant == "index"
    prior = dist.Categorical(f64([0.3, 0.3, 0.4])) if categorical else dist.Bernoulli(f64(0.4))
    logit = logits_param(f"{p}l", ctx, (3,) if categorical else ())

    def model(arg):
        z = ppl.sample(f"{p}z", prior)
        ppl.sample(f"{p}x", dist.Normal(f64(_control_flow_loc(variant, z)), 1.0), obs=x)

    def guide(arg):
        fn = dist.Categorical(logits=logit()) if categorical else dist.Bernoulli(logits=logit())
        ppl.sample(f"{p}z", fn, infer=ctx.infer(f"{p}z"))

    return Block(model, guide, vectorizable=False, escapes=frozenset({f"{p}z"}))


def _wrapped_likelihood(variant, z):
    loc = (2 * z - 1).unsqueeze(-1).expand(*z.shape, 2)
    keep = torch.tensor(True)
    if variant == "to_event":
        return dist.Normal(loc, 1.0).to_event(1)
    if variant == "mask":
        return dist.Normal(loc, 1.0).to_event(1).mask(keep)
    if variant == "expand":
        return dist.Normal((2 * z - 1).unsqueeze(-1), 1.0).expand(z.shape + (2,)).to_event(1)
    if variant == "transformed":
        base = dist.Normal(loc, 1.0)
        return dist.TransformedDistribution(base, [ExpTransform()]).to_event(1).mask(keep)
    if variant == "lognormal":
        return dist.LogNormal(loc, 1.0).to_event(1).mask(keep)
    if variant == "mixture":
        mixing = dist.Categorical(logits=torch.stack([2 * z, -2 * z], -1))
        return dist.MixtureSameFamily(mixing, dist.Normal(f64([-1.0, 1.0]).expand(loc.shape), 1.0))
    return CenteredNormal(2 * z - 1)  # "subclass": the location under a new attribute name


def build_wrapped(p, variant, ctx):
    """A Bernoulli latent reaching the data through distribution wrappers (issue 13, case 3)."""
    prior = f64(uniform(ctx, 0.2, 0.8))
    scalar = variant in ("mixture", "subclass")
    data = (
        f64(uniform(ctx, -2, 2))
        if scalar
        else f64([uniform(ctx, 0.3, 3.0), uniform(ctx, 0.3, 3.0)])
    )

    def model(arg):
        z = ppl.sample(f"{p}z", dist.Bernoulli(prior))
        ppl.sample(f"{p}x", _wrapped_likelihood(variant, z), obs=data)

    return Block(model, _bernoulli_guide(p, ctx, logits_param(f"{p}l", ctx)))


_MASK_VARIANTS = {
    # variant: (model latent, model data, guide site) as (mask, scale); None = untouched.
    "guide_mask": (None, None, ("m", 1.0)),
    "guide_mask_false": (None, None, (False, 1.0)),
    "both_mask": (("m", 1.0), None, ("m", 1.0)),
    "dist_mask": (None, None, "dist"),
    "data_scale": (None, (True, 2.5), None),
    "both_scale": ((True, 0.5), None, (True, 0.5)),
    "guide_scale": (None, None, (True, 0.5)),
}


def _under(spec, keep, fn):
    # Runs fn under the mask/scale handlers that spec asks for.
    if spec is None or spec == "dist":
        return fn()
    mask, scale = spec
    with ppl.handlers.mask(mask=keep if mask == "m" else mask):
        with ppl.handlers.scale(scale=scale):
            return fn()


def build_masked(p, variant, ctx):
    """``mask``/``scale`` handlers and ``.mask()`` on model and guide sites of a plate."""
    latent, data_spec, guide_spec = _MASK_VARIANTS[variant]
    prior = f64(uniform(ctx, 0.2, 0.8))
    data = f64([uniform(ctx, -2, 2) for _ in range(3)])
    keep = torch.tensor([True, False, True])
    logits = logits_param(f"{p}l", ctx, (3,))

    def model(arg):
        with ppl.plate(f"{p}v", 3, dim=-1):
            z = _under(latent, keep, lambda: ppl.sample(f"{p}z", dist.Bernoulli(prior)))
            _under(
                data_spec, keep, lambda: ppl.sample(f"{p}x", dist.Normal(2 * z - 1, 1.0), obs=data)
            )

    def guide(arg):
        lg = logits()
        with ppl.plate(f"{p}v", 3, dim=-1):
            fn = dist.Bernoulli(logits=lg)
            fn = fn.mask(keep) if guide_spec == "dist" else fn
            _under(guide_spec, keep, lambda: ppl.sample(f"{p}z", fn, infer=ctx.infer(f"{p}z")))

    return Block(model, guide, mean_field=latent == guide_spec)


def build_factor(p, variant, ctx):
    """A ``factor`` on the latent in place of a likelihood."""
    prior, target = f64(uniform(ctx, 0.2, 0.8)), uniform(ctx, -0.5, 1.5)

    def model(arg):
        z = ppl.sample(f"{p}z", dist.Bernoulli(prior))
        ppl.factor(f"{p}f", -2.0 * (z - target) ** 2)

    return Block(model, _bernoulli_guide(p, ctx, logits_param(f"{p}l", ctx)))


def build_data_flow(p, variant, ctx):
    """Which latent drives the data depends on ``arg`` (0 or 1); names and shapes do not
    (issue 13, case 4)."""
    x = f64(uniform(ctx, -2, 2))
    la, lb = logits_param(f"{p}la", ctx), logits_param(f"{p}lb", ctx)

    def model(arg):
        a = ppl.sample(f"{p}a", dist.Bernoulli(f64(0.3)))
        b = ppl.sample(f"{p}b", dist.Bernoulli(f64(0.6)))
        ppl.sample(f"{p}x", dist.Normal(2 * (a if arg == 0 else b) - 1, 1.0), obs=x)

    def guide(arg):
        ppl.sample(f"{p}a", dist.Bernoulli(logits=la()), infer=ctx.infer(f"{p}a"))
        ppl.sample(f"{p}b", dist.Bernoulli(logits=lb()), infer=ctx.infer(f"{p}b"))

    return Block(model, guide)


FLOW_BUILDERS = {
    "deterministic": (build_deterministic, ["pass_through"]),
    "control_flow": (build_control_flow, ["item", "if", "int", "tolist", "index"]),
    "wrapped": (
        build_wrapped,
        ["to_event", "mask", "expand", "transformed", "lognormal", "mixture", "subclass"],
    ),
    "masked": (build_masked, sorted(_MASK_VARIANTS)),
    "factor": (build_factor, ["soft"]),
    "data_flow": (build_data_flow, ["by_argument"]),
}
