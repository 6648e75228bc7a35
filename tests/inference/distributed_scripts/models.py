"""Small models shared by the distributed worker and the single-process checks."""

import math

import torch

import ppl
from distributions import Delta, Normal, constraints

__all__ = [
    "GRAD_DATA",
    "CONJUGATE_DATA",
    "SUBSAMPLE",
    "GUIDE_LOC",
    "GUIDE_SCALE",
    "map_model",
    "map_guide",
    "regression_model",
    "regression_guide",
    "conjugate_model",
    "conjugate_guide",
    "exact_conjugate_loss",
    "RecordingOptim",
]

# Seven points: two ranks get blocks of 4 and 3, so the uneven-shard correction is exercised.
GRAD_DATA = torch.tensor([0.3, -1.2, 2.5, 0.7, 1.9, -0.4, 3.1], dtype=torch.float64)

CONJUGATE_DATA = torch.tensor([0.5, 1.5, -0.3, 2.2, 0.9, 1.1, -1.0, 0.2, 1.7, 0.6])
SUBSAMPLE = 2
GUIDE_LOC, GUIDE_SCALE = 0.3, 0.8


def map_model(data):
    """A global latent (Delta guide) and two params, data in a full plate to shard."""
    z = ppl.sample("z", Normal(torch.tensor(0.0, dtype=torch.float64), 2.0))
    init = torch.tensor(1.5, dtype=torch.float64)
    scale = ppl.param("scale", init, constraint=constraints.positive)
    shift = ppl.param("shift", torch.tensor(0.2, dtype=torch.float64))
    with ppl.plate("data", data.shape[0]) as idx:
        ppl.sample("x", Normal(z + shift, scale), obs=data[idx])


def map_guide(data):
    z_map = ppl.param("z_map", torch.tensor(0.5, dtype=torch.float64))
    ppl.sample("z", Delta(z_map))


def regression_model(x, y, subsample_size):
    w = ppl.sample("w", Normal(torch.zeros(x.shape[1]), 1.0).to_event(1))
    with ppl.plate("data", x.shape[0], subsample_size=subsample_size) as idx:
        ppl.sample("y", Normal(x[idx] @ w, 0.5), obs=y[idx])


def regression_guide(x, y, subsample_size):
    loc = ppl.param("w_loc", lambda: torch.randn(x.shape[1]))  # rank-dependent on purpose
    scale = ppl.param("w_scale", torch.ones(x.shape[1]) * 0.5, constraint=constraints.positive)
    ppl.sample("w", Normal(loc, scale).to_event(1))


def conjugate_model():
    z = ppl.sample("z", Normal(0.0, 1.0))
    n = CONJUGATE_DATA.shape[0]
    with ppl.plate("data", n, subsample_size=SUBSAMPLE) as idx:
        ppl.sample("x", Normal(z, 1.0), obs=CONJUGATE_DATA[idx])


def conjugate_guide():
    ppl.sample("z", Normal(GUIDE_LOC, GUIDE_SCALE))


def exact_conjugate_loss():
    """-ELBO of the conjugate model under the fixed guide, in closed form."""
    m, s = GUIDE_LOC, GUIDE_SCALE
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    prior = -half_log_2pi - 0.5 * (m**2 + s**2)
    likelihood = sum(-half_log_2pi - 0.5 * ((x - m) ** 2 + s**2) for x in CONJUGATE_DATA.tolist())
    entropy = 0.5 * math.log(2 * math.pi * math.e * s**2)
    return -(prior + likelihood + entropy)


class RecordingOptim:
    """An optimizer that only records the gradients it is given."""

    def __init__(self):
        self.grads = []

    def __call__(self, params):
        self.grads.append({n: p.grad.detach().clone() for n, p in params.items()})
