"""Exact ELBOs, gradients and Hessians by enumerating every guide draw.

The oracle runs the guide once per *path*: one joint choice of every random
decision the guide makes. Each decision is replaced by one of finitely many
options with a known weight:

* a discrete site (``has_enumerate_support``): every joint value of its
  elements, weighted by its probability under the site's sampling law (the
  distribution with any mask stripped: a masked guide site is still drawn from
  its full distribution);
* a Normal site (any subclass, under ``Independent``/``Masked``/expand
  wrappers): Gauss-Hermite nodes ``loc + scale * sqrt(2) * x_k`` per element,
  weighted by ``w_k / sqrt(pi)``. The nodes move with ``loc`` and ``scale``,
  so the sum is a differentiable function of the parameters: ``K`` nodes
  integrate polynomials of degree ``2K - 1`` exactly, which covers every
  derivative of a linear-Gaussian log-joint with ``K = 3``; a single-element
  site gets ``K = 20``, exact to float64 precision for the smooth integrands
  used here (see ``programs.py``);
* a subsampled plate (in the guide, or in the model when the guide has no
  plate of that name): every ordered choice of ``subsample_size`` distinct
  indices, each with probability ``1 / (size)_k``, as ``torch.randperm`` draws.

The model is replayed against each path's guide trace. A path contributes
``weight * (sum of scaled, masked log p - sum of scaled, masked log q)``; the
sum over paths is the ELBO, a differentiable function of the guide's
parameters, so its gradient and Hessian come from autograd. The enumeration
is a depth-first walk of the guide's decision tree, so guides whose structure
depends on earlier draws are enumerated correctly too.

The log-densities are recomputed here from ``site.fn``, ``site.value``,
``site.scale`` and ``site.mask`` (not from the estimators' code), so the
oracle shares no arithmetic with what it checks.
"""

import functools
import itertools
import math

import numpy as np
import torch

import distributions as dist
from ppl import get_param_store
from ppl.handlers import replay, trace
from ppl.runtime import Messenger

__all__ = [
    "MAX_PATHS",
    "exact_elbo",
    "exact_loss_and_grad",
    "exact_hessian",
    "guide_param_names",
    "hessian_of",
    "param_leaves",
]

MAX_PATHS = 4096
_SCALAR_NODES = 20
_VECTOR_NODES = 3


@functools.cache
def _gauss_hermite(k):
    x, w = np.polynomial.hermite.hermgauss(k)
    return (
        torch.tensor(x, dtype=torch.float64) * math.sqrt(2.0),
        torch.tensor(w, dtype=torch.float64).log() - 0.5 * math.log(math.pi),
    )


def _digits(index, base, count):
    out = []
    for _ in range(count):
        index, d = divmod(index, base)
        out.append(d)
    return out


def _sampling_log_prob(fn, value):
    # The density the draw comes from: masks are stripped, wrappers kept.
    if isinstance(fn, dist.MaskedDistribution):
        return _sampling_log_prob(fn.base_dist, value)
    if isinstance(fn, dist.Independent):
        lp = _sampling_log_prob(fn.base_dist, value)
        n = fn.reinterpreted_batch_ndims
        return lp.sum(tuple(range(-n, 0))) if n else lp
    return fn.log_prob(value)


def _normal_base(fn):
    while isinstance(fn, (dist.MaskedDistribution, dist.Independent, dist.ExpandedDistribution)):
        fn = fn.base_dist
    return fn if isinstance(fn, dist.Normal) else None


def _discrete_options(fn):
    shape = fn.batch_shape + fn.event_shape
    if fn.event_shape:
        raise TypeError(f"oracle: cannot enumerate {type(fn).__name__} with an event shape")
    support = fn.enumerate_support(expand=True)
    k, n = support.shape[0], max(1, shape.numel())
    flat = support.reshape(k, n)
    columns = torch.arange(n)

    def option(i):
        value = flat[torch.tensor(_digits(i, k, n)), columns].reshape(shape)
        return value, _sampling_log_prob(fn, value).sum()

    return k**n, option


def _normal_options(fn, base):
    shape = fn.batch_shape + fn.event_shape
    n = max(1, shape.numel())
    k = _SCALAR_NODES if n == 1 else _VECTOR_NODES
    nodes, log_w = _gauss_hermite(k)
    loc = base.loc.expand(shape).reshape(n)
    scale = base.scale.expand(shape).reshape(n)

    def option(i):
        d = torch.tensor(_digits(i, k, n))
        value = (loc + scale * nodes[d]).reshape(shape)
        return value, log_w[d].sum()

    return k**n, option


class _Choose(Messenger):
    """Replaces every guide decision by the option the current path prescribes."""

    def __init__(self, prefix):
        super().__init__()
        self.prefix = list(prefix)
        self.taken = []
        self.arity = []
        self.log_weight = torch.zeros((), dtype=torch.float64)

    def _pick(self, count):
        if count > MAX_PATHS:
            raise ValueError(f"oracle: {count} options at one site; keep programs smaller")
        pos = len(self.taken)
        i = self.prefix[pos] if pos < len(self.prefix) else 0
        self.taken.append(i)
        self.arity.append(count)
        return i

    def _process_sample(self, msg):
        if msg.is_observed or msg.value is not None:
            return
        fn = msg.fn
        base = _normal_base(fn)
        if getattr(fn, "has_enumerate_support", False):
            count, option = _discrete_options(fn)
        elif base is not None:
            count, option = _normal_options(fn, base)
        else:
            raise TypeError(
                f"oracle: site '{msg.name}' has {type(fn).__name__}, which is neither "
                "discrete nor Normal; give its block a closed-form oracle"
            )
        value, log_w = option(self._pick(count))
        msg.value = value
        msg.done = True
        self.log_weight = self.log_weight + log_w

    def _process_plate(self, msg):
        size, subsample_size = msg.args
        if msg.value is not None or subsample_size is None or subsample_size >= size:
            return
        options = list(itertools.permutations(range(size), subsample_size))
        msg.value = torch.tensor(options[self._pick(len(options))])
        self.log_weight = self.log_weight - math.log(len(options))


def _scaled_log_prob(site):
    lp = site.fn.log_prob(site.value)
    mask = site.mask
    if mask is False:
        return torch.zeros((), dtype=torch.float64)
    if isinstance(mask, torch.Tensor):
        lp = torch.where(mask, lp, torch.zeros_like(lp))
    return (lp * site.scale).sum()


def _path_elbo(model_trace, guide_trace):
    total = torch.zeros((), dtype=torch.float64)
    for site in model_trace.nodes.values():
        if site.type == "sample":
            total = total + _scaled_log_prob(site)
    for site in guide_trace.nodes.values():
        if site.type == "sample" and not site.is_observed:
            total = total - _scaled_log_prob(site)
    return total


def _next_prefix(taken, arity):
    for j in range(len(taken) - 1, -1, -1):
        if taken[j] + 1 < arity[j]:
            return taken[:j] + [taken[j] + 1]
    return None


def exact_elbo(model, guide, *args, **kwargs):
    """The exact ELBO of ``guide`` for ``model``, differentiable in the guide's parameters.

    Returns:
        A float64 scalar tensor: ``sum over paths of weight * path ELBO``.
    """
    total = torch.zeros((), dtype=torch.float64)
    prefix, paths = [], 0
    while prefix is not None:
        chooser = _Choose(prefix)
        with chooser:
            guide_trace = trace(guide).get_trace(*args, **kwargs)
            # A plate the guide does not fix is drawn in the model: enumerated too.
            model_trace = trace(replay(model, trace=guide_trace)).get_trace(*args, **kwargs)
        total = total + chooser.log_weight.exp() * _path_elbo(model_trace, guide_trace)
        prefix = _next_prefix(chooser.taken, chooser.arity)
        paths += 1
        if paths > MAX_PATHS:
            raise ValueError(f"oracle: more than {MAX_PATHS} guide paths; keep programs smaller")
    return total


def guide_param_names(guide, *args, **kwargs):
    """The guide's own parameters (learned baselines' module parameters excluded), sorted."""
    tr = trace(guide).get_trace(*args, **kwargs)
    return sorted(n for n, s in tr.nodes.items() if s.type == "param" and "$$$" not in n)


def param_leaves(names):
    """The unconstrained leaf tensors of ``names`` in the parameter store."""
    store = get_param_store()
    return [store.get_unconstrained(n) for n in names]


def exact_loss_and_grad(elbo_fn, names):
    """``(-ELBO, d(-ELBO)/d leaves)`` as a float64 vector ``[loss, grad...]``.

    Args:
        elbo_fn: a function of no arguments returning the exact ELBO tensor.
        names: the parameter names to differentiate by.
    """
    leaves = param_leaves(names)
    loss = -elbo_fn()
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    flat = [_flat_grad(g, leaf) for g, leaf in zip(grads, leaves)]
    return torch.cat([loss.detach().reshape(1).double()] + flat)


def exact_hessian(elbo_fn, names):
    """The exact Hessian of ``-ELBO`` in the flattened leaves of ``names``."""
    leaves = param_leaves(names)
    return hessian_of(lambda: -elbo_fn(), leaves)


def hessian_of(loss_fn, leaves):
    """The Hessian of ``loss_fn()`` in the flattened ``leaves`` by double backward."""
    loss = loss_fn()
    grads = torch.autograd.grad(loss, leaves, create_graph=True, allow_unused=True)
    grad = torch.cat([_flat_grad(g, leaf) for g, leaf in zip(grads, leaves)])
    rows = []
    for i in range(grad.numel()):
        if not grad[i].requires_grad:
            rows.append(torch.zeros_like(grad))
            continue
        second = torch.autograd.grad(grad[i], leaves, retain_graph=True, allow_unused=True)
        rows.append(torch.cat([_flat_grad(g, leaf) for g, leaf in zip(second, leaves)]))
    return torch.stack(rows).detach()


def _flat_grad(grad, leaf):
    if grad is None:
        return torch.zeros(leaf.numel(), dtype=torch.float64)
    return grad.reshape(-1).double()
