"""``JitTrace_ELBO`` and ``JitTraceGraph_ELBO``: ELBOs whose loss assembly is compiled.

Tracing a model through effect handlers breaks ``torch.compile`` graphs at
every handler, so these variants compile the part that is pure tensor
arithmetic: :func:`inference.surrogate.combine`, which turns the per-site
log-density and score tensors into the loss. If compilation fails they fall
back to eager with one warning; results equal the eager ELBOs'.
"""

import warnings

import torch

from inference.surrogate import combine
from inference.trace_elbo import Trace_ELBO, TraceGraph_ELBO

__all__ = ["JitTrace_ELBO", "JitTraceGraph_ELBO", "CompileFallbackWarning"]


class CompileFallbackWarning(UserWarning):
    """Compilation failed; the ELBO runs eagerly."""


class _CompiledCombine:
    """``combine`` under ``torch.compile``, falling back to eager on the first failure."""

    def __init__(self, owner, backend="eager"):
        self.owner = owner
        self.compiled = torch.compile(combine, backend=backend, dynamic=True)
        self.failed = False

    def __call__(self, *parts):
        if not self.failed:
            try:
                with warnings.catch_warnings():
                    # Dynamo inspects .grad of the (non-leaf) inputs while building
                    # guards, which warns; the inputs are ours, not the user's.
                    warnings.filterwarnings("ignore", message="The .grad attribute of a Tensor")
                    return self.compiled(*parts)
            except Exception as e:  # noqa: BLE001 - any compiler failure means eager
                self.failed = True
                warnings.warn(
                    f"{self.owner}: torch.compile failed ({type(e).__name__}: {e}); "
                    "running eagerly from now on",
                    CompileFallbackWarning,
                    stacklevel=3,
                )
        return combine(*parts)


class JitTrace_ELBO(Trace_ELBO):
    """:class:`~inference.Trace_ELBO` with its loss assembly compiled by ``torch.compile``.

    Example:
        >>> JitTrace_ELBO(num_particles=2).num_particles
        2
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._combine = _CompiledCombine(type(self).__name__)


class JitTraceGraph_ELBO(TraceGraph_ELBO):
    """:class:`~inference.TraceGraph_ELBO` with its loss assembly compiled by ``torch.compile``.

    Example:
        >>> JitTraceGraph_ELBO().num_particles
        1
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._combine = _CompiledCombine(type(self).__name__)
