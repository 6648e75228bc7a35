"""Variational inference: stochastic computation graphs, ELBOs, SVI, optimizers.

The ELBO estimators share one surrogate construction (:mod:`inference.surrogate`)
and differ only in which costs a non-reparameterized site is credited with.
"""

from inference import optim
from inference.elbo import ELBO
from inference.jit import JitTrace_ELBO, JitTraceGraph_ELBO, JitTraceMeanField_ELBO
from inference.mean_field import TraceMeanField_ELBO
from inference.render import render_scg
from inference.render_model import model_graph, render_model
from inference.stochastic_graph import ConservativeGraphWarning, scg
from inference.svi import SVI, NonFiniteLossError, NonFiniteStepWarning
from inference.trace_elbo import Trace_ELBO, TraceGraph_ELBO

__all__ = [
    "ConservativeGraphWarning",
    "ELBO",
    "JitTrace_ELBO",
    "JitTraceGraph_ELBO",
    "JitTraceMeanField_ELBO",
    "NonFiniteLossError",
    "NonFiniteStepWarning",
    "SVI",
    "TraceGraph_ELBO",
    "TraceMeanField_ELBO",
    "Trace_ELBO",
    "optim",
    "model_graph",
    "render_model",
    "render_scg",
    "scg",
]


# --- predictive, summary, importance, autoguides (issue 7) ---------------------
from inference import autoguide  # noqa: E402
from inference.importance import Importance  # noqa: E402
from inference.predictive import Predictive  # noqa: E402
from inference.sample_map import VectorizationWarning  # noqa: E402
from inference.summary import summary  # noqa: E402

__all__ += ["autoguide", "Importance", "Predictive", "VectorizationWarning", "summary"]
# --- end of issue 7 block ------------------------------------------------------

# --- data-parallel SVI and Predictive on torch.distributed (issue 15) -----------
from inference import distributed  # noqa: E402
from inference.distributed import DistributedPredictive, DistributedSVI  # noqa: E402

__all__ += ["distributed", "DistributedPredictive", "DistributedSVI"]
# --- end of issue 15 block -----------------------------------------------------


# --- enumeration and multi-sample bounds (issue 18) ----------------------------
from inference.enum import TraceEnum_ELBO, infer_discrete  # noqa: E402
from inference.renyi_elbo import RenyiELBO  # noqa: E402
from inference.vimco import VIMCO  # noqa: E402
from ppl.handlers import config_enumerate  # noqa: E402

__all__ += ["RenyiELBO", "TraceEnum_ELBO", "VIMCO", "config_enumerate", "infer_discrete"]
# --- end of issue 18 block -----------------------------------------------------
