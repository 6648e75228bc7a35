"""infer_discrete against brute force over every joint assignment of the discrete sites."""

import contextlib
import itertools

import pytest
import torch

import ppl
from distributions import Bernoulli, Categorical, Normal
from inference.enum import TraceEnum_ELBO
from inference.enum.infer_discrete import infer_discrete
from ppl.handlers import config_enumerate, markov, trace

TRANS = torch.tensor([[0.7, 0.2, 0.1], [0.15, 0.7, 0.15], [0.3, 0.3, 0.4]])
LOCS = torch.tensor([-1.0, 0.0, 1.0])
YS = torch.tensor([-0.4, 0.6, 0.2, -1.1])
X3 = torch.tensor([0.3, -1.0, 2.0])


@config_enumerate
def chain(ys):
    x, states = torch.tensor(0), []
    for t in markov(range(len(ys))):
        x = ppl.sample(f"x_{t}", Categorical(TRANS[x]))
        ppl.sample(f"y_{t}", Normal(LOCS[x], 0.7), obs=ys[t])
        states.append(x)
    return states


def _chain_log_joint(states, ys):
    total, prev = 0.0, 0
    for x, y in zip(states, ys):
        total = total + TRANS[prev, x].log() + Normal(LOCS[x], 0.7).log_prob(y)
        prev = x
    return float(total)


def test_map_of_a_chain_equals_brute_force():
    combos = list(itertools.product(range(3), repeat=len(YS)))
    best = max(combos, key=lambda states: _chain_log_joint(states, YS))
    states = infer_discrete(chain, first_available_dim=-1, temperature=0)(YS)
    assert tuple(int(s) for s in states) == best


def test_map_is_recorded_in_the_trace_as_latent_values():
    tr = trace(infer_discrete(chain, first_available_dim=-1, temperature=0)).get_trace(YS)
    assert tr.nodes["x_0"].value.shape == ()
    assert not tr.nodes["x_0"].is_observed


def _switches(x):
    a = ppl.sample("a", Bernoulli(0.4))
    with ppl.plate("data", 3, dim=-1):
        b = ppl.sample("b", Bernoulli(0.2 + 0.6 * a))
        ppl.sample("x", Normal(a + 2 * b, 1.0), obs=x)
    return a, b


def _switches_posterior(x):
    log_p = {}
    for a, *b in itertools.product([0.0, 1.0], repeat=4):
        a_, b_ = torch.tensor(a), torch.tensor(b)
        log_p[(a, *b)] = float(
            Bernoulli(0.4).log_prob(a_)
            + Bernoulli(0.2 + 0.6 * a_).log_prob(b_).sum()
            + Normal(a_ + 2 * b_, 1.0).log_prob(x).sum()
        )
    norm = torch.logsumexp(torch.tensor(list(log_p.values())), 0)
    return {k: float(torch.tensor(v) - norm) for k, v in log_p.items()}


def test_map_in_a_plate_equals_brute_force():
    posterior = _switches_posterior(X3)
    a, b = infer_discrete(config_enumerate(_switches), first_available_dim=-2, temperature=0)(X3)
    assert (float(a), *b.tolist()) == max(posterior, key=posterior.get)


def test_posterior_draws_match_the_exact_posterior():
    # 4000 joint draws in one vectorized run. Each of the 16 cell frequencies is
    # checked at 4.5 standard errors: false-alarm rate below 1e-4 for the test.
    n = 4000

    def batched(x):
        with ppl.plate("draws", n, dim=-2):
            return _switches(x)

    a, b = infer_discrete(config_enumerate(batched), first_available_dim=-3, temperature=1)(X3)
    draws = torch.cat([a.expand(n, 1), b], dim=-1)
    posterior = _switches_posterior(X3)
    for cell, log_p in posterior.items():
        p = torch.tensor(log_p).exp().item()
        freq = (draws == torch.tensor(cell)).all(-1).double().mean().item()
        assert abs(freq - p) <= 4.5 * (p * (1 - p) / n) ** 0.5 + 1e-12, cell


def test_sampled_sites_keep_their_first_run_values():
    def model():
        loc = ppl.sample("loc", Normal(0.0, 1.0))
        z = ppl.sample("z", Bernoulli(0.5), infer={"enumerate": "parallel"})
        ppl.sample("x", Normal(loc + 5.0 * z, 0.1), obs=torch.tensor(5.0))
        return loc, z

    torch.manual_seed(3)
    loc, z = infer_discrete(model, first_available_dim=-1, temperature=0)()
    torch.manual_seed(3)
    expected_loc = Normal(0.0, 1.0).sample()
    assert torch.equal(loc, expected_loc)
    assert float(z) == (1.0 if abs(float(loc)) < 2.5 else 0.0)


def test_decorator_form_and_errors():
    map_chain = infer_discrete(first_available_dim=-1, temperature=0)(chain)
    assert len(map_chain(YS)) == len(YS)
    with pytest.raises(ValueError, match="first_available_dim must be a negative int"):
        infer_discrete(chain)
    with pytest.raises(ValueError, match="temperature must be 0 \\(MAP\\) or 1"):
        infer_discrete(chain, first_available_dim=-1, temperature=0.5)


def test_compute_marginals_of_a_chain_equal_brute_force():
    marginals = TraceEnum_ELBO(max_plate_nesting=0).compute_marginals(chain, lambda ys: None, YS)
    combos = list(itertools.product(range(3), repeat=len(YS)))
    log_joint = torch.tensor([_chain_log_joint(states, YS) for states in combos])
    post = (log_joint - log_joint.logsumexp(0)).exp()
    for t in range(len(YS)):
        exact = torch.stack([post[[c[t] == k for c in combos]].sum() for k in range(3)])
        assert torch.allclose(marginals[f"x_{t}"].probs, exact.float(), atol=1e-5)


def test_compute_marginals_in_a_plate_equal_brute_force():
    marginals = TraceEnum_ELBO(max_plate_nesting=1).compute_marginals(
        config_enumerate(_switches), lambda x: None, X3
    )
    posterior = _switches_posterior(X3)
    p_a1 = sum(torch.tensor(v).exp() for k, v in posterior.items() if k[0] == 1.0)
    assert marginals["a"].probs[1].item() == pytest.approx(float(p_a1), abs=1e-5)
    assert marginals["b"].probs.shape == (3, 2)
    for i in range(3):
        p_b1 = sum(torch.tensor(v).exp() for k, v in posterior.items() if k[1 + i] == 1.0)
        assert marginals["b"].probs[i, 1].item() == pytest.approx(float(p_b1), abs=1e-5)


YS2 = torch.tensor([[-0.9, 0.4, 1.2], [0.8, 0.1, -1.0]])


def batched_chain(ys, draws=None):
    # One chain per row of ys (plate at dim -1), optionally repeated `draws` times (dim -2).
    outer = ppl.plate("draws", draws, dim=-2) if draws else contextlib.nullcontext()
    with outer, ppl.plate("rows", ys.shape[0], dim=-1):
        x, states = torch.tensor(0), []
        for t in markov(range(ys.shape[1])):
            x = ppl.sample(f"x_{t}", Categorical(TRANS[x]), infer={"enumerate": "parallel"})
            ppl.sample(f"y_{t}", Normal(LOCS[x], 0.7), obs=ys[:, t])
            states.append(x)
    return states


def _row_posterior(y):
    combos = list(itertools.product(range(3), repeat=len(y)))
    log_joint = torch.tensor([_chain_log_joint(states, y) for states in combos])
    return combos, (log_joint - log_joint.logsumexp(0)).exp()


def test_map_of_chains_in_a_plate_equals_brute_force_per_row():
    states = infer_discrete(batched_chain, first_available_dim=-2, temperature=0)(YS2)
    path = torch.stack([s.expand(2) for s in states], dim=-1)
    for row in range(2):
        combos, post = _row_posterior(YS2[row])
        assert tuple(path[row].tolist()) == combos[int(post.argmax())]


def test_backward_sampling_along_a_chain_matches_the_exact_posterior():
    # 3000 draws of both rows' paths in one run; each of the 27 path frequencies of
    # row 0 is checked at 4.5 standard errors (false-alarm rate below 2e-4 in all).
    n = 3000
    states = infer_discrete(batched_chain, first_available_dim=-3, temperature=1)(YS2, n)
    paths = torch.stack([s.expand(n, 2) for s in states], dim=-1)[:, 0]
    combos, post = _row_posterior(YS2[0])
    for combo, p in zip(combos, post.tolist()):
        freq = (paths == torch.tensor(combo)).all(-1).double().mean().item()
        assert abs(freq - p) <= 4.5 * (p * (1 - p) / n) ** 0.5 + 1e-12, combo
