"""Bayesian modules: ``torch.nn.Module`` attributes as param and sample sites.

``Module`` (Pyro's ``PyroModule``), ``Param`` (``PyroParam``), ``Sample``
(``PyroSample``), ``method`` (``pyro_method``) and ``to_bayesian_``
(``to_pyro_module_``).

Example:
    >>> import torch, ppl
    >>> from distributions import Normal
    >>> layer = ppl.nn.Module[torch.nn.Linear](3, 1)
    >>> layer.bias = ppl.nn.Sample(Normal(0.0, 1.0).expand([1]).to_event(1))
    >>> sorted(ppl.handlers.trace(layer).get_trace(torch.ones(2, 3)).nodes)
    ['_RETURN', 'bias', 'weight']
"""

from ppl.nn.module import Module, method, to_bayesian_
from ppl.nn.sites import Param, Sample, is_distribution

__all__ = ["Module", "Param", "Sample", "is_distribution", "method", "to_bayesian_"]
