"""Threads: each thread has its own handler stack and its own parameter-store scopes."""

import threading

import torch

import ppl
from distributions import Delta, Normal
from inference import SVI, Trace_ELBO
from inference.optim import SGD
from ppl import param_store

# Far above the cost of a whole test (well under a second on an idle core):
# reached only if a thread died or deadlocked.
_TIMEOUT_S = 120.0


def _run_in_threads(*targets, barrier=None):
    """Runs each target in its own thread; returns their results, re-raising the first error.

    A failing thread breaks ``barrier``, so the others stop waiting for it.
    """
    results, errors = [None] * len(targets), []

    def run(i, target):
        try:
            results[i] = target()
        except BaseException as e:  # handed to the main thread, which raises it
            errors.append(e)
            if barrier is not None:
                barrier.abort()

    threads = [threading.Thread(target=run, args=(i, t)) for i, t in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(_TIMEOUT_S)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        first = [e for e in errors if not isinstance(e, threading.BrokenBarrierError)]
        raise (first or errors)[0]
    return results


def _map_fit(data, barrier, steps=25):
    """MAP of mu ~ N(0, 10), data ~ N(mu, 1) by SVI with a Delta guide, in a fresh scope.

    Both threads use the same site and parameter names: with a shared
    handler stack or store they would collide ("Duplicate site name 'mu'").
    The barrier inside the model makes the two threads run their steps in
    lockstep, so both are inside their traces at the same time.
    """

    def model():
        mu = ppl.sample("mu", Normal(0.0, 10.0))
        barrier.wait(_TIMEOUT_S)
        with ppl.plate("data", len(data)):
            ppl.sample("obs", Normal(mu, 1.0), obs=data)

    def guide():
        ppl.sample("mu", Delta(ppl.param("mu_map", torch.tensor(0.0))))

    with ppl.param_store_scope() as store:
        svi = SVI(model, guide, SGD({"lr": 0.2}), Trace_ELBO())
        for _ in range(steps):
            svi.step()
        return store["mu_map"].item(), sorted(store.keys())


def _map_closed_form(data):
    # Posterior mode of a normal mean with prior N(0, 10^2) and unit noise.
    return data.sum().item() / (len(data) + 1 / 100)


def test_two_threads_fit_different_models_each_in_its_own_scope():
    barrier = threading.Barrier(2)
    data_a = torch.tensor([3.0, 3.5, 2.5])
    data_b = torch.tensor([-2.0, -1.0])
    (mu_a, keys_a), (mu_b, keys_b) = _run_in_threads(
        lambda: _map_fit(data_a, barrier), lambda: _map_fit(data_b, barrier), barrier=barrier
    )
    # The Delta guide makes the loss a deterministic quadratic of curvature
    # n + 0.01: SGD with lr 0.2 contracts the error by |1 - 0.2 (n + 0.01)| <= 0.6
    # a step, so 25 steps leave under 3 * 0.6**25 ~ 1e-5.
    assert abs(mu_a - _map_closed_form(data_a)) < 1e-3
    assert abs(mu_b - _map_closed_form(data_b)) < 1e-3
    assert keys_a == keys_b == ["mu_map"]
    assert "mu_map" not in ppl.get_param_store()  # neither leaked into the default store


def test_a_handler_in_one_thread_is_invisible_in_another():
    entered, checked = threading.Event(), threading.Event()

    def tracing():
        with ppl.handlers.trace() as tracer:
            entered.set()
            checked.wait(_TIMEOUT_S)
            ppl.sample("x", Normal(0.0, 1.0))
        return list(tracer.trace.nodes)

    def outside():
        entered.wait(_TIMEOUT_S)
        try:
            stack = list(ppl.get_stack())
            # Takes the no-handler fast path: not recorded by the other thread's trace.
            ppl.sample("x", Normal(0.0, 1.0))
        finally:
            checked.set()
        return stack

    names, stack = _run_in_threads(tracing, outside)
    assert stack == []
    assert names == ["x"]
    assert ppl.get_stack() == []


def test_scopes_are_per_thread_and_threads_start_on_the_default_store():
    default = ppl.get_param_store()
    inside, seen = threading.Event(), {}

    def scoped():
        with ppl.param_store_scope() as store:
            ppl.param("a", torch.tensor(1.0))
            inside.set()
            seen["scoped"] = store
            other_done.wait(_TIMEOUT_S)

    other_done = threading.Event()

    def unscoped():
        inside.wait(_TIMEOUT_S)
        seen["unscoped"] = ppl.get_param_store()
        other_done.set()

    _run_in_threads(scoped, unscoped)
    assert seen["unscoped"] is default  # not the other thread's scope
    assert seen["scoped"] is not default and "a" not in default


def test_the_global_scope_count_returns_to_empty():
    with ppl.param_store_scope() as outer:
        with ppl.param_store_scope():
            assert len(param_store._ENTERED_SCOPES) == 2
        assert ppl.get_param_store() is outer
    assert param_store._ENTERED_SCOPES == []
    assert ppl.get_param_store() is param_store._DEFAULT_STORE
