"""Variational inference: stochastic computation graphs, ELBOs, SVI, optimizers.

The ELBO estimators share one surrogate construction (:mod:`inference.surrogate`)
and differ only in which costs a non-reparameterized site is credited with.
Beside them: compiled steps (:mod:`inference.jit`), enumeration of discrete
latents (:mod:`inference.enum`), multi-sample bounds, autoguides, Predictive,
importance sampling and data-parallel training (:mod:`inference.distributed`).
"""

from inference import autoguide, distributed, optim
from inference.distributed import DistributedPredictive, DistributedSVI
from inference.elbo import ELBO
from inference.enum import TraceEnum_ELBO, infer_discrete
from inference.importance import Importance
from inference.jit import JitTrace_ELBO, JitTraceGraph_ELBO, JitTraceMeanField_ELBO
from inference.mean_field import TraceMeanField_ELBO
from inference.predictive import Predictive
from inference.render import render_scg
from inference.render_model import model_graph, render_model
from inference.renyi_elbo import RenyiELBO
from inference.sample_map import VectorizationWarning
from inference.stochastic_graph import ConservativeGraphWarning, scg
from inference.summary import summary
from inference.svi import SVI, NonFiniteLossError, NonFiniteStepWarning
from inference.trace_elbo import Trace_ELBO, TraceGraph_ELBO
from inference.vimco import VIMCO
from ppl.handlers import config_enumerate

__all__ = [
    "ConservativeGraphWarning",
    "DistributedPredictive",
    "DistributedSVI",
    "ELBO",
    "Importance",
    "JitTrace_ELBO",
    "JitTraceGraph_ELBO",
    "JitTraceMeanField_ELBO",
    "NonFiniteLossError",
    "NonFiniteStepWarning",
    "Predictive",
    "RenyiELBO",
    "SVI",
    "TraceEnum_ELBO",
    "TraceGraph_ELBO",
    "TraceMeanField_ELBO",
    "Trace_ELBO",
    "VIMCO",
    "VectorizationWarning",
    "autoguide",
    "config_enumerate",
    "distributed",
    "infer_discrete",
    "model_graph",
    "optim",
    "render_model",
    "render_scg",
    "scg",
    "summary",
]
