"""A Pyro-like effect-handler runtime: primitives, plates, handlers, parameter store.

Models written for Pyro run by changing imports (``import ppl as pyro``,
``from ppl import handlers as poutine``). Importing ``ppl`` registers the
pyroapi backend ``"ppl"``.

Example:
    >>> import ppl, torch
    >>> from distributions import Normal
    >>> def model(data):
    ...     loc = ppl.sample("loc", Normal(0.0, 10.0))
    ...     with ppl.plate("data", len(data)):
    ...         ppl.sample("obs", Normal(loc, 1.0), obs=data)
    >>> tr = ppl.handlers.trace(model).get_trace(torch.zeros(3))
    >>> tr.stochastic_nodes, tr.observation_nodes
    (['loc'], ['obs'])
"""

from ppl import handlers, nn
from ppl.handlers.markov import markov
from ppl.handlers.seed import set_rng_seed
from ppl.param_store import (
    ParamStore,
    clear_param_store,
    get_param_store,
    param_store_scope,
)
from ppl.plate import CondIndepStackFrame, plate, plate_stack
from ppl.primitives import deterministic, factor, module, observe, param, sample
from ppl.pyroapi_backend import register as _register_pyroapi_backend
from ppl.runtime import Message, Messenger, apply_stack, get_stack
from ppl.trace_struct import Trace
from ppl.validation import enable_validation, is_validation_enabled, validation_enabled

__all__ = [
    "CondIndepStackFrame",
    "Message",
    "Messenger",
    "ParamStore",
    "Trace",
    "apply_stack",
    "clear_param_store",
    "deterministic",
    "enable_validation",
    "factor",
    "get_param_store",
    "get_stack",
    "handlers",
    "is_validation_enabled",
    "markov",
    "module",
    "nn",
    "observe",
    "param",
    "param_store_scope",
    "plate",
    "plate_stack",
    "sample",
    "set_rng_seed",
    "validation_enabled",
]

_register_pyroapi_backend()
