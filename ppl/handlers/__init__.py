"""Effect handlers: each a lowercase class usable as a context manager and a decorator.

``trace`` records a run, ``replay`` reuses recorded values, ``condition`` and
``uncondition`` turn sites into data and back, ``block`` hides sites,
``seed`` fixes the randomness, ``scale`` and ``mask`` reweight
log-probabilities, ``substitute`` fixes values, ``do`` intervenes,
``broadcast`` expands over plates, ``infer_config`` sets inference hints,
``lift`` turns params into random variables, ``scope`` prefixes names,
``enum``, ``markov`` and ``config_enumerate`` set up exact enumeration.
"""

from ppl.handlers.block import block
from ppl.handlers.broadcast import broadcast
from ppl.handlers.condition import condition, uncondition
from ppl.handlers.config_enumerate import config_enumerate
from ppl.handlers.do import do
from ppl.handlers.enum import enum
from ppl.handlers.infer_config import infer_config
from ppl.handlers.lift import lift
from ppl.handlers.markov import markov
from ppl.handlers.reparam import reparam
from ppl.handlers.replay import replay
from ppl.handlers.scale_mask import mask, scale
from ppl.handlers.scope import scope
from ppl.handlers.seed import seed
from ppl.handlers.substitute import substitute
from ppl.handlers.trace import trace
from ppl.runtime import Messenger
from ppl.trace_struct import Trace

__all__ = [
    "Messenger",
    "Trace",
    "block",
    "broadcast",
    "condition",
    "config_enumerate",
    "do",
    "enum",
    "infer_config",
    "lift",
    "markov",
    "mask",
    "reparam",
    "replay",
    "scale",
    "scope",
    "seed",
    "substitute",
    "trace",
    "uncondition",
]
