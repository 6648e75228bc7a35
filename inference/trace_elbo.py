"""``Trace_ELBO`` and ``TraceGraph_ELBO``: two choices of credited costs.

Both estimate the gradient of the ELBO with pathwise terms for
reparameterized sites and score-function terms for the rest (Ranganath et al.
2014, "Black Box Variational Inference", arXiv 1401.0118; Schulman et al. 2015,
arXiv 1506.05254). They differ only in which costs a non-reparameterized site
``z`` is credited with, i.e. in how much they Rao-Blackwellize:

* ``Trace_ELBO``: every cost, restricted to ``z``'s own element of each
  vectorized plate it shares with the cost;
* ``TraceGraph_ELBO``: only costs downstream of ``z`` in the stochastic
  computation graph (data flow), with the same plate restriction.
"""

from inference.elbo import ELBO
from inference.stochastic_graph import ScgCache

__all__ = ["Trace_ELBO", "TraceGraph_ELBO"]


class Trace_ELBO(ELBO):
    """The ELBO with plate-wise Rao-Blackwellized score-function terms.

    Example:
        >>> import torch, ppl
        >>> from distributions import Normal
        >>> def model():
        ...     z = ppl.sample("z", Normal(0.0, 1.0))
        ...     ppl.sample("x", Normal(z, 1.0), obs=torch.tensor(0.0))
        >>> def guide():
        ...     ppl.sample("z", Normal(0.0, 1.0))
        >>> isinstance(Trace_ELBO().loss(model, guide), float)
        True
    """


class TraceGraph_ELBO(ELBO):
    """The ELBO whose score-function terms see only costs downstream in the graph.

    The graph (:mod:`inference.scg`) is cached while the traces' structure
    (site names, plates, shapes) stays the same. Baselines per site come from
    ``infer={"baseline": {...}}`` (:mod:`inference.baselines`).

    Example:
        >>> import torch, ppl
        >>> from distributions import Bernoulli
        >>> def model():
        ...     ppl.sample("a", Bernoulli(0.5))
        ...     ppl.sample("x", Bernoulli(0.5), obs=torch.tensor(1.0))
        >>> def guide():
        ...     p = ppl.param("p", torch.tensor(0.3))
        ...     ppl.sample("a", Bernoulli(p))
        >>> elbo = TraceGraph_ELBO()
        >>> loss = elbo.differentiable_loss(model, guide)
        >>> elbo.graph.has_edge("guide/a", "model/a")
        True
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._cache = ScgCache()

    @property
    def graph(self):
        """The stochastic computation graph of the last estimate."""
        return self._cache.graph

    def _downstream(self, model, guide, args, kwargs, model_trace, guide_trace):
        self._cache.get(model, guide, args, kwargs, model_trace, guide_trace)
        table = self._cache.downstream
        return lambda name: table[name]
