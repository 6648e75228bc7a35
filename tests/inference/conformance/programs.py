"""The table of conformance programs: blocks combined by a seeded generator.

Every ``(kind, variant)`` of :mod:`.blocks` and :mod:`.flow_blocks` appears
once as a program of its own; then ``random.Random(SEED)`` draws programs of
two or three vectorizable blocks (cross-block credit is what distinguishes
the estimators), and a few that put a control-flow block (run with a particle
loop) next to another block. A :class:`ProgramSpec` is only a recipe (a name and the
blocks' seeds); :meth:`ProgramSpec.build` creates fresh functions, nn
baselines and parameter initial values, so every test starts from the same
state whatever ran before it.

Baselines (``infer={"baseline": ...}`` on every non-reparameterized guide
site, see :mod:`inference.baselines`) are chosen at build time.
"""

import random
from dataclasses import dataclass

import torch

from ppl.handlers import trace

from .blocks import BUILDERS, BuildContext, f64
from .flow_blocks import FLOW_BUILDERS
from .oracle import exact_elbo

__all__ = ["BASELINES", "PROGRAMS", "Program", "ProgramSpec", "SEED"]

SEED = 13
NUM_COMBINED = 14
NUM_LOOPED = 3
ALL_BUILDERS = {**BUILDERS, **FLOW_BUILDERS}
BASELINES = ("none", "decaying_avg", "value", "nn", "loo")


def _nn_module():
    # A fixed initialization: the harness never trains it, and a random one
    # would make the tests depend on the global RNG state at build time.
    net = torch.nn.Linear(1, 1).double()
    with torch.no_grad():
        net.weight.fill_(0.5)
        net.bias.fill_(-1.5)
    return net


class _Baseline:
    """``site name -> infer dict`` for one baseline kind; one nn module per site."""

    def __init__(self, kind):
        self.kind = kind
        self.modules = {}

    def __call__(self, name):
        if self.kind == "none":
            return {}
        if self.kind == "decaying_avg":
            return {"baseline": {"use_decaying_avg_baseline": True, "baseline_beta": 0.9}}
        if self.kind == "value":
            return {"baseline": {"baseline_value": f64(-2.0)}}
        if self.kind == "loo":
            return {"baseline": {"loo": True}}
        module = self.modules.setdefault(name, _nn_module())
        return {"baseline": {"nn_baseline": module, "nn_baseline_input": f64([1.0])}}


@dataclass
class Program:
    """A built program: model, guide, flags and its exact ELBO.

    Attributes:
        name: the pytest id.
        model, guide: ``fn(arg)``.
        args: the arguments every check runs (two for data-flow programs,
            alternated on one ELBO instance).
        blocks: the :class:`~.blocks.Block` list.
    """

    name: str
    model: object
    guide: object
    args: tuple
    blocks: list

    @property
    def mean_field(self):
        return all(b.mean_field for b in self.blocks)

    @property
    def vectorizable(self):
        return all(b.vectorizable for b in self.blocks)

    @property
    def escapes(self):
        return frozenset().union(*(b.escapes for b in self.blocks))

    def score_sites(self, arg):
        """The guide's non-reparameterized sites."""
        tr = trace(self.guide).get_trace(arg)
        return [
            n
            for n, s in tr.nodes.items()
            if s.type == "sample" and not s.is_observed and not s.fn.has_rsample
        ]

    def exact_elbo(self, arg):
        """The exact ELBO: the sum of the blocks' (their sites and data are disjoint)."""
        total = f64(0.0)
        for b in self.blocks:
            part = b.oracle(arg) if b.oracle else exact_elbo(b.model, b.guide, arg)
            total = total + part
        return total


@dataclass(frozen=True)
class ProgramSpec:
    """A recipe: ``(kind, variant)`` per block and a seed."""

    parts: tuple
    seed: int

    @property
    def name(self):
        return "+".join(f"{k}[{v}]" for k, v in self.parts)

    def build(self, baseline="none"):
        """Fresh functions and parameter initial values for the program."""
        infer = _Baseline(baseline)
        blocks = []
        for j, (kind, variant) in enumerate(self.parts):
            ctx = BuildContext(rng=random.Random(1000 * self.seed + j), infer=infer)
            blocks.append(ALL_BUILDERS[kind][0](f"b{j}_", variant, ctx))
        args = (0, 1) if any(k == "data_flow" for k, _ in self.parts) else (0,)

        def model(arg):
            for b in blocks:
                b.model(arg)

        def guide(arg):
            for b in blocks:
                b.guide(arg)

        return Program(self.name, model, guide, args, blocks)


def _vectorizable_kinds():
    return [
        (kind, variant)
        for kind, (_, variants) in ALL_BUILDERS.items()
        for variant in variants
        if kind != "control_flow"
    ]


def make_programs():
    """Every single-block program, then ``NUM_COMBINED`` seeded combinations of
    vectorizable blocks and ``NUM_LOOPED`` of a control-flow block with another."""
    specs = [
        ProgramSpec(((kind, variant),), seed)
        for seed, (kind, variant) in enumerate(
            (k, v) for k, (_, variants) in ALL_BUILDERS.items() for v in variants
        )
    ]
    rng = random.Random(SEED)
    pool = _vectorizable_kinds()
    target = len(specs) + NUM_COMBINED
    while len(specs) < target:
        parts = tuple(rng.sample(pool, rng.choice([2, 2, 3])))
        if len({k for k, _ in parts}) == len(parts):
            specs.append(ProgramSpec(parts, len(specs)))
    # Control flow next to other blocks: the conservative fallback must credit
    # the escaping site with the later costs of other blocks correctly.
    loops = [("control_flow", v) for v in ALL_BUILDERS["control_flow"][1]]
    for _ in range(NUM_LOOPED):
        parts = [rng.choice(loops), rng.choice(pool)]
        rng.shuffle(parts)
        specs.append(ProgramSpec(tuple(parts), len(specs)))
    return specs


PROGRAMS = make_programs()
