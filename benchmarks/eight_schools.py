"""The eight-schools model and mean-field guide that the SVI benchmarks of ours share.

One definition, so the compiled, eager and NumPyro-peer tables time the same program
(Rubin 1981; the non-centred form of Gelman et al., *Bayesian Data Analysis*, 5.5).

Example:
    >>> from ppl.handlers import trace
    >>> sorted(trace(model).get_trace(SIGMA, Y).stochastic_nodes)
    ['log_tau', 'mu', 'theta_raw']
"""

import torch

import ppl
from distributions import Normal, constraints

__all__ = ["SIGMA", "Y", "mean_field", "model"]

SIGMA = torch.tensor([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
Y = torch.tensor([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])


def model(sigma, y):
    """Schools' effects around a common mean, scale exp(log_tau), non-centred."""
    mu = ppl.sample("mu", Normal(0.0, 5.0))
    log_tau = ppl.sample("log_tau", Normal(0.0, 1.0))
    with ppl.plate("schools", 8):
        raw = ppl.sample("theta_raw", Normal(0.0, 1.0))
        ppl.sample("obs", Normal(mu + log_tau.exp() * raw, sigma), obs=y)


def mean_field(sigma, y):
    """A normal guide per latent, each with its own location and positive scale."""
    for name in ("mu", "log_tau"):
        loc = ppl.param(f"{name}_loc", torch.tensor(0.0))
        scale = ppl.param(f"{name}_scale", torch.tensor(1.0), constraint=constraints.positive)
        ppl.sample(name, Normal(loc, scale))
    with ppl.plate("schools", 8):
        loc = ppl.param("raw_loc", torch.zeros(8))
        scale = ppl.param("raw_scale", torch.ones(8), constraint=constraints.positive)
        ppl.sample("theta_raw", Normal(loc, scale))
