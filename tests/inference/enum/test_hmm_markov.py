"""Hidden Markov models under ``markov``: the forward algorithm, and memory flat in T.

The oracle is the forward algorithm written out here with plain tensor
products, independent of the variable-elimination code under test.
"""

import itertools

import pytest
import torch

import ppl
from distributions import Bernoulli, Categorical, Normal
from inference.enum import TraceEnum_ELBO
from ppl.handlers import enum, markov, trace

PAR = {"enumerate": "parallel"}
TRANS = torch.tensor([[0.8, 0.15, 0.05], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
LOCS = torch.tensor([-2.0, 0.0, 2.0])


def hmm(ys, history=1):
    x = torch.tensor(0)
    for t in markov(range(ys.shape[-1]), history=history):
        x = ppl.sample(f"x_{t}", Categorical(TRANS[x]), infer=PAR)
        ppl.sample(f"y_{t}", Normal(LOCS[x], 1.0), obs=ys[..., t])


def forward_log_likelihood(ys):
    # alpha_t(j) = sum_i alpha_{t-1}(i) A_ij * N(y_t; mu_j, 1), in log space.
    log_a = TRANS.log()
    log_alpha = log_a[0] + Normal(LOCS, 1.0).log_prob(ys[..., :1].unsqueeze(-1)).squeeze(-2)
    for t in range(1, ys.shape[-1]):
        emit = Normal(LOCS, 1.0).log_prob(ys[..., t : t + 1])
        log_alpha = torch.logsumexp(log_alpha.unsqueeze(-1) + log_a, dim=-2) + emit
    return torch.logsumexp(log_alpha, dim=-1)


def _sequence(length, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x, ys = 0, []
    for _ in range(length):
        x = int(torch.multinomial(TRANS[x], 1, generator=gen))
        ys.append(LOCS[x] + torch.randn((), generator=gen))
    return torch.stack(ys)


def _no_guide(*args, **kwargs):
    return None


def test_hmm_log_likelihood_equals_the_forward_algorithm():
    ys = _sequence(30)
    elbo = -TraceEnum_ELBO(max_plate_nesting=0).loss(hmm, _no_guide, ys)
    assert elbo == pytest.approx(float(forward_log_likelihood(ys)), abs=1e-4)


def test_batched_hmm_in_a_plate_equals_the_forward_algorithm():
    ys = torch.stack([_sequence(12, seed) for seed in range(4)])

    def model(ys):
        with ppl.plate("sequences", ys.shape[0], dim=-1):
            hmm(ys)

    elbo = -TraceEnum_ELBO(max_plate_nesting=1).loss(model, _no_guide, ys)
    assert elbo == pytest.approx(float(forward_log_likelihood(ys).sum()), abs=1e-4)


@pytest.mark.slow
def test_hmm_of_length_1000_uses_two_dims_and_small_tensors():
    ys = _sequence(1000)
    elbo = TraceEnum_ELBO(max_plate_nesting=0)
    loss = elbo.loss(hmm, _no_guide, ys)
    model_trace, _ = elbo.last_traces
    dims = {s.infer["_enum_dim"] for s in model_trace.nodes.values() if "_enum_dim" in s.infer}
    sizes = {s.log_prob.numel() for s in model_trace.nodes.values() if s.type == "sample"}
    assert dims == {-1, -2}
    assert max(sizes) == 9  # a 3 x 3 transition factor, whatever T is
    assert -loss == pytest.approx(float(forward_log_likelihood(ys)), rel=1e-5)


def test_enum_handler_recycles_dims_along_the_chain():
    handler = enum(first_available_dim=-1)
    trace(handler(hmm)).get_trace(_sequence(50))
    assert handler.dims_used == {-1, -2}


def test_second_order_chain_needs_three_dims():
    handler = enum(first_available_dim=-1)
    tr = trace(handler(hmm)).get_trace(_sequence(20), history=2)
    assert handler.dims_used == {-1, -2, -3}
    assert sorted(tr.nodes["x_5"].infer["_enum_dims"].values()) == ["x_3", "x_4", "x_5"]


def test_without_markov_every_step_takes_a_new_dim():
    def chain(ys):
        x = torch.tensor(0)
        for t in range(ys.shape[-1]):
            x = ppl.sample(f"x_{t}", Categorical(TRANS[x]), infer=PAR)
            ppl.sample(f"y_{t}", Normal(LOCS[x], 1.0), obs=ys[t])

    handler = enum(first_available_dim=-1)
    ys = _sequence(4)
    trace(handler(chain)).get_trace(ys)
    assert handler.dims_used == {-1, -2, -3, -4}
    elbo = -TraceEnum_ELBO(max_plate_nesting=0).loss(chain, _no_guide, ys)
    assert elbo == pytest.approx(float(forward_log_likelihood(ys)), abs=1e-4)


def test_gradient_of_the_hmm_likelihood_matches_the_forward_algorithm():
    ys = _sequence(15)

    def model(ys):
        locs = ppl.param("locs", LOCS.clone())
        x = torch.tensor(0)
        for t in markov(range(len(ys))):
            x = ppl.sample(f"x_{t}", Categorical(TRANS[x]), infer=PAR)
            ppl.sample(f"y_{t}", Normal(locs[x], 1.0), obs=ys[t])

    loss = TraceEnum_ELBO(max_plate_nesting=0).differentiable_loss(model, _no_guide, ys)
    locs = ppl.get_param_store()["locs"]
    (grad,) = torch.autograd.grad(-loss, [locs])

    def oracle(locs_):
        log_a = TRANS.log()
        log_alpha = log_a[0] + Normal(locs_, 1.0).log_prob(ys[0])
        for t in range(1, len(ys)):
            log_alpha = torch.logsumexp(log_alpha.unsqueeze(-1) + log_a, -2)
            log_alpha = log_alpha + Normal(locs_, 1.0).log_prob(ys[t])
        return torch.logsumexp(log_alpha, -1)

    (expected,) = torch.autograd.functional.vjp(oracle, LOCS.clone(), torch.tensor(1.0))[1:]
    assert torch.allclose(grad, expected, atol=1e-4)


def test_markov_as_a_decorator_on_a_recursive_chain():
    ys = _sequence(8)

    @markov
    def step(t, x):
        x = ppl.sample(f"x_{t}", Categorical(TRANS[x]), infer=PAR)
        ppl.sample(f"y_{t}", Normal(LOCS[x], 1.0), obs=ys[t])
        if t + 1 < len(ys):
            step(t + 1, x)

    def model():
        step(0, torch.tensor(0))

    elbo = TraceEnum_ELBO(max_plate_nesting=0)
    assert -elbo.loss(model, _no_guide) == pytest.approx(
        float(forward_log_likelihood(ys)), abs=1e-4
    )
    model_trace, _ = elbo.last_traces
    dims = {s.infer["_enum_dim"] for s in model_trace.nodes.values() if "_enum_dim" in s.infer}
    assert dims == {-1, -2}


def test_guide_enumerated_chain_with_model_enumerated_emissions_equals_brute_force():
    # The guide enumerates the chain (its markov recycles the guide's dims), the
    # model enumerates a switch per step. Oracle: all 2^5 guide paths, w summed per step.
    ys = torch.tensor([0.3, -1.2, 0.8, 1.5, -0.2])
    trans = torch.tensor([[0.7, 0.3], [0.4, 0.6]])
    q_trans = torch.tensor([[0.6, 0.4], [0.2, 0.8]])

    def model():
        x = torch.tensor(0)
        for t in markov(range(len(ys))):
            x = ppl.sample(f"x_{t}", Categorical(trans[x]))
            w = ppl.sample(f"w_{t}", Bernoulli(0.3 + 0.4 * x.float()), infer=PAR)
            ppl.sample(f"y_{t}", Normal(x.float() + w, 1.0), obs=ys[t])

    def guide():
        x = torch.tensor(0)
        for t in markov(range(len(ys))):
            x = ppl.sample(f"x_{t}", Categorical(q_trans[x]), infer=PAR)

    exact = 0.0
    for path in itertools.product([0, 1], repeat=len(ys)):
        log_q, log_p, prev = 0.0, 0.0, 0
        for t, x in enumerate(path):
            log_q, log_p = log_q + q_trans[prev, x].log(), log_p + trans[prev, x].log()
            log_p = log_p + torch.logsumexp(
                torch.stack(
                    [
                        Bernoulli(0.3 + 0.4 * x).log_prob(torch.tensor(float(w)))
                        + Normal(x + w, 1.0).log_prob(ys[t])
                        for w in (0, 1)
                    ]
                ),
                0,
            )
            prev = x
        exact = exact + log_q.exp() * (log_p - log_q)
    elbo = -TraceEnum_ELBO(max_plate_nesting=0).loss(model, guide)
    assert elbo == pytest.approx(float(exact), abs=1e-4)
