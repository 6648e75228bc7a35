"""TraceEnum_ELBO on a battery of small structures, against one generic brute-force oracle.

The oracle fixes every element of every discrete latent (``substitute``),
scores the unenumerated program with ``Trace.log_prob_sum`` and sums over all
joint assignments; guide-enumerated sites are averaged over the same way. It
never builds a factor graph, so it shares no code with the contraction.
"""

import itertools

import pytest
import torch

import ppl
from distributions import Bernoulli, Categorical, Normal
from inference.enum import TraceEnum_ELBO
from ppl.handlers import markov, mask, scale, substitute, trace

PAR = {"enumerate": "parallel"}
GEN = torch.Generator().manual_seed(7)
TABLE = torch.rand(3, 3, generator=GEN).softmax(-1)
OBS = torch.randn(2, 2, generator=GEN)


def _assignments(shapes):
    # Every joint value of sites given as name -> (num_values, shape); Categorical
    # sites (more than two values) take long values, Bernoulli ones floats.
    names = list(shapes)
    sizes = [torch.Size(shapes[n][1]).numel() for n in names]
    ranges = [range(shapes[n][0]) for n, size in zip(names, sizes) for _ in range(size)]
    for flat in itertools.product(*ranges):
        values, i = {}, 0
        for name, size in zip(names, sizes):
            num_values, shape = shapes[name]
            dtype = torch.long if num_values > 2 else torch.float
            values[name] = torch.tensor(flat[i : i + size], dtype=dtype).reshape(shape)
            i += size
        yield values


def _log_joint(program, values):
    return trace(substitute(program, data=values)).get_trace().log_prob_sum()


def brute_force_elbo(model, guide, model_sites, guide_sites):
    """sum_g q(g) [log sum_m p(x, g, m) - log q(g)] by listing every assignment."""
    total = 0.0
    for g in _assignments(guide_sites) if guide_sites else [{}]:
        log_q = _log_joint(guide, g) if guide_sites else torch.tensor(0.0)
        inner = torch.logsumexp(
            torch.stack([_log_joint(model, {**g, **m}) for m in _assignments(model_sites)]), 0
        )
        total = total + log_q.exp() * (inner - log_q)
    return total


def _none():
    return None


def global_chain():
    a = ppl.sample("a", Categorical(TABLE[0]), infer=PAR)
    b = ppl.sample("b", Categorical(TABLE[a.long()]), infer=PAR)
    ppl.sample("x", Normal(b.float(), 1.0), obs=OBS[0, 0])


def global_to_plate():
    a = ppl.sample("a", Bernoulli(0.35), infer=PAR)
    with ppl.plate("i", 2):
        b = ppl.sample("b", Categorical(TABLE[a.long()]), infer=PAR)
        ppl.sample("x", Normal(b.float() - a, 1.0), obs=OBS[0])


def nested_plates():
    a = ppl.sample("a", Bernoulli(0.6), infer=PAR)
    with ppl.plate("i", 2, dim=-2):
        b = ppl.sample("b", Bernoulli(0.3 + 0.4 * a), infer=PAR)
        with ppl.plate("j", 2, dim=-1):
            c = ppl.sample("c", Bernoulli(0.2 + 0.3 * b + 0.2 * a), infer=PAR)
            ppl.sample("x", Normal(c + b, 1.0), obs=OBS)


def sibling_plates():
    a = ppl.sample("a", Bernoulli(0.45), infer=PAR)
    with ppl.plate("i", 2, dim=-1):
        b = ppl.sample("b", Bernoulli(0.3 + 0.5 * a), infer=PAR)
        ppl.sample("x", Normal(b, 1.0), obs=OBS[0])
    with ppl.plate("j", 2, dim=-2):
        c = ppl.sample("c", Bernoulli(0.7 - 0.4 * a), infer=PAR)
        ppl.sample("y", Normal(2 * c, 1.0), obs=OBS[1].unsqueeze(-1))


def chain_in_plate():
    with ppl.plate("i", 2, dim=-1):
        x = torch.tensor(0)
        for t in markov(range(3)):
            x = ppl.sample(f"x_{t}", Categorical(TABLE[x.long(), :2].softmax(-1)), infer=PAR)
            ppl.sample(f"y_{t}", Normal(x.float(), 1.0), obs=OBS[t % 2])


def scaled_and_masked():
    a = ppl.sample("a", Bernoulli(0.4), infer=PAR)
    with ppl.plate("i", 2):
        b = ppl.sample("b", Bernoulli(0.3 + 0.4 * a), infer=PAR)
        with scale(scale=0.5):
            ppl.sample("x", Normal(a + b, 1.0), obs=OBS[0])
        with mask(mask=torch.tensor([True, False])):
            ppl.sample("y", Normal(b, 1.0), obs=OBS[1])


MODEL_ONLY = {
    "global_chain": (global_chain, {"a": (3, ()), "b": (3, ())}, 0),
    "global_to_plate": (global_to_plate, {"a": (2, ()), "b": (3, (2,))}, 1),
    "nested_plates": (nested_plates, {"a": (2, ()), "b": (2, (2, 1)), "c": (2, (2, 2))}, 2),
    "sibling_plates": (sibling_plates, {"a": (2, ()), "b": (2, (2,)), "c": (2, (2, 1))}, 2),
    "chain_in_plate": (chain_in_plate, {f"x_{t}": (2, (2,)) for t in range(3)}, 1),
    "scaled_and_masked": (scaled_and_masked, {"a": (2, ()), "b": (2, (2,))}, 1),
}


@pytest.mark.parametrize("name", sorted(MODEL_ONLY))
def test_model_enumeration_equals_brute_force(name):
    model, sites, nesting = MODEL_ONLY[name]
    value = -TraceEnum_ELBO(max_plate_nesting=nesting).loss(model, _none)
    assert value == pytest.approx(float(brute_force_elbo(model, _none, sites, {})), abs=1e-4)


def _guide_of(names_in_guide, plates):
    # A guide enumerating `names_in_guide` with fixed tables, mirroring the model's plates.
    def guide():
        probs = {"a": torch.tensor(0.7), "b": torch.tensor([0.2, 0.6])}
        if "a" in names_in_guide:
            ppl.sample("a", Bernoulli(probs["a"]), infer=PAR)
        if "b" in names_in_guide:
            with ppl.plate("i", 2, dim=plates["i"]):
                ppl.sample("b", Bernoulli(probs["b"]), infer=PAR)

    return guide


def _without_enumeration(names, model):
    # The model with the guide-enumerated sites unmarked (they are sampled by the guide).
    def config(msg):
        return {"enumerate": None} if msg.name in names else {}

    return ppl.handlers.infer_config(model, config_fn=config)


@pytest.mark.parametrize(
    "name, in_guide",
    [
        ("nested_plates", ["a"]),
        ("sibling_plates", ["a"]),
        ("scaled_and_masked", ["a"]),
        ("scaled_and_masked", ["a", "b"]),
    ],
)
def test_mixed_model_and_guide_enumeration_equals_brute_force(name, in_guide):
    model, sites, nesting = MODEL_ONLY[name]
    model = _without_enumeration(in_guide, model)
    plates = {"i": -2 if name == "nested_plates" else -1}
    guide = _guide_of(in_guide, plates)
    model_sites = {k: v for k, v in sites.items() if k not in in_guide}
    guide_sites = {k: v for k, v in sites.items() if k in in_guide}
    if "b" in in_guide:
        guide_sites["b"] = (2, (2,))
    value = -TraceEnum_ELBO(max_plate_nesting=nesting).loss(model, guide)
    expected = brute_force_elbo(model, guide, model_sites, guide_sites)
    assert value == pytest.approx(float(expected), abs=1e-4)


def test_max_plate_nesting_is_inferred_when_omitted():
    model, sites, _ = MODEL_ONLY["nested_plates"]
    value = -TraceEnum_ELBO().loss(model, _none)
    assert value == pytest.approx(float(brute_force_elbo(model, _none, sites, {})), abs=1e-4)
