"""The surrogate loss against a plain DiCE construction, bit for bit.

``surrogate_loss`` shares one ``box(log q)`` between every term whose tau is
that site's whole log-density; the reference below builds a fresh box per term
(the construction of the module docstring, term by term). Value and gradients
must agree exactly, on a program where the box of a plate's draws is shared by
the costs in the plate and summed over the plate for the costs outside it.
"""

import torch

import distributions as dist
import ppl
from inference import Trace_ELBO
from inference.surrogate import restrict_to_plates, site_costs
from inference.traces import trace_pair

DATA = torch.tensor([0.3, -1.2, 2.0, 0.7])


def model():
    a = ppl.sample("a", dist.Normal(0.0, 1.0))
    with ppl.plate("data", 4):
        z = ppl.sample("z", dist.Bernoulli(0.6))
        ppl.sample("x", dist.Normal(a + 2.0 * z, 1.0), obs=DATA)


def guide():
    loc = ppl.param("loc", torch.tensor(0.5))
    pz = ppl.param("pz", torch.full((4,), 0.3), constraint=dist.constraints.unit_interval)
    ppl.sample("a", dist.Normal(loc, 1.0))  # reparameterized: z is the only score site
    with ppl.plate("data", 4):
        ppl.sample("z", dist.Bernoulli(pz))


def _box(tau):
    return torch.exp(tau - tau.detach())


def _reference_loss(model_trace, guide_trace):
    # Trace_ELBO's rule: every cost credited with z's draws, plate-restricted:
    # a's costs (outside the plate) see z's log q summed, the others z_i's own.
    # Every tau first, then a box per term (autograd sums the gradients reaching
    # log q in the order of the nodes built, so the order is part of the claim).
    z = guide_trace.nodes["z"]
    costs = site_costs(model_trace, guide_trace)
    taus = [restrict_to_plates(z.unscaled_log_prob, z, c.site, c.value.shape) for c in costs]
    parts = [(_box(tau) * c.value).sum() for c, tau in zip(costs, taus)]
    parts.append((_box(z.unscaled_log_prob) - 1.0).sum())
    return 0.0 - torch.stack(parts).sum()


def _gradients(loss):
    store = ppl.get_param_store()
    params = [store.get_unconstrained(n) for n in ("loc", "pz")]
    return torch.autograd.grad(loss, params)


def test_shared_boxes_give_the_reference_value_and_gradients_exactly():
    for seed in range(5):
        ppl.clear_param_store()
        torch.manual_seed(seed)
        ours = Trace_ELBO().differentiable_loss(model, guide)
        torch.manual_seed(seed)
        model_trace, guide_trace, _ = trace_pair(model, guide, (), {})
        model_trace.compute_log_prob()
        guide_trace.compute_log_prob()
        reference = _reference_loss(model_trace, guide_trace)
        assert torch.equal(ours, reference)
        for g, h in zip(_gradients(ours), _gradients(reference)):
            assert torch.equal(g, h), (seed, g, h)
