"""``MixtureSameFamily``: a finite mixture whose components share one family."""

import torch

from distributions import constraints
from distributions.constraints import MixtureSameFamilyConstraint
from distributions.distribution import Distribution
from distributions.linalg import batch_shapes

__all__ = ["MixtureSameFamily"]

_OWNER = "MixtureSameFamily"


def _check_mixture(mixture):
    ok = (
        isinstance(mixture, Distribution)
        and not mixture.event_shape
        and isinstance(getattr(mixture, "logits", None), torch.Tensor)
    )
    if not ok:
        raise ValueError(
            f"{_OWNER}: mixture_distribution must be a Categorical over the components (a "
            f"distributions.Distribution with scalar events and logits of shape batch + (K,)), "
            f"got {type(mixture).__module__}.{type(mixture).__name__}; use "
            "distributions.Categorical(logits=...)"
        )


def _check_component(component, num_components):
    if not isinstance(component, Distribution):
        raise ValueError(
            f"{_OWNER}: component_distribution must be a distributions.Distribution, got "
            f"{type(component).__module__}.{type(component).__name__}"
        )
    batch = component.batch_shape
    if not batch or batch[-1] != num_components:
        raise ValueError(
            f"{_OWNER}: the rightmost batch dim of component_distribution indexes the "
            f"components and must equal the mixture's {num_components} categories, but its "
            f"batch shape is {tuple(batch)}; e.g. Normal(loc, scale) with loc of shape "
            f"batch + ({num_components},)"
        )


def _joint_batch_shape(mixture_batch, component_batch):
    try:
        return batch_shapes(mixture_batch, component_batch)
    except RuntimeError:
        raise ValueError(
            f"{_OWNER}: mixture_distribution.batch_shape {tuple(mixture_batch)} does not "
            f"broadcast with component_distribution.batch_shape[:-1] {tuple(component_batch)}"
        ) from None


class MixtureSameFamily(Distribution):
    """A mixture ``p(x) = sum_k pi_k p_k(x)`` of components batched along one dim.

    The rightmost batch dim of ``component_distribution`` indexes the ``K``
    components; ``mixture_distribution`` is a categorical with ``K`` categories
    whose batch shape broadcasts with the remaining component batch dims.
    ``log_prob`` is a ``logsumexp`` over components of
    ``log pi_k + log p_k(x)``; moments follow from the laws of total expectation
    and variance. Sampling draws every component and gathers the chosen one, so
    it is not reparameterized (``has_rsample = False``).

    Args:
        mixture_distribution: a ``Categorical`` over the ``K`` components.
        component_distribution: a distribution of batch shape ``batch + (K,)``.
        validate_args: see :class:`Distribution`.

    Raises:
        ValueError: for a mixing distribution without categorical ``logits``, a
            component distribution whose last batch dim is not ``K``, or batch
            shapes that do not broadcast.

    Example:
        >>> from distributions import Normal
        >>> MixtureSameFamily(Normal(0.0, 1.0), Normal(torch.zeros(2), 1.0))
        Traceback (most recent call last):
        ...
        ValueError: MixtureSameFamily: mixture_distribution must be a Categorical ...
    """

    arg_constraints: dict = {}
    has_rsample = False

    def __init__(self, mixture_distribution, component_distribution, validate_args=None):
        _check_mixture(mixture_distribution)
        num_components = mixture_distribution.logits.shape[-1]
        _check_component(component_distribution, num_components)
        batch_shape = _joint_batch_shape(
            mixture_distribution.batch_shape, component_distribution.batch_shape[:-1]
        )
        # Both parts are brought to the joint batch shape once, so sampling and
        # scoring need no further broadcasting logic.
        if mixture_distribution.batch_shape != batch_shape:
            mixture_distribution = mixture_distribution.expand(batch_shape)
        if component_distribution.batch_shape[:-1] != batch_shape:
            component_distribution = component_distribution.expand(batch_shape + (num_components,))
        self._mixture_distribution = mixture_distribution
        self._component_distribution = component_distribution
        self._num_component = num_components
        self._event_ndims = len(component_distribution.event_shape)
        super().__init__(
            batch_shape, component_distribution.event_shape, validate_args=validate_args
        )

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(MixtureSameFamily, _instance)
        batch_shape = torch.Size(batch_shape)
        new._mixture_distribution = self._mixture_distribution.expand(batch_shape)
        new._component_distribution = self._component_distribution.expand(
            batch_shape + (self._num_component,)
        )
        new._num_component = self._num_component
        new._event_ndims = self._event_ndims
        super(MixtureSameFamily, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property
    def support(self):
        return MixtureSameFamilyConstraint(self._component_distribution.support)

    @property
    def mixture_distribution(self):
        return self._mixture_distribution

    @property
    def component_distribution(self):
        return self._component_distribution

    def _weights(self):
        """Mixing probabilities shaped ``batch + (K,) + (1,) * event_ndims``."""
        probs = torch.softmax(self._mixture_distribution.logits, dim=-1)
        return probs.reshape(probs.shape + (1,) * self._event_ndims)

    def _component_dim(self):
        return -1 - self._event_ndims

    @property
    def mean(self):
        return (self._weights() * self._component_distribution.mean).sum(self._component_dim())

    @property
    def variance(self):
        weights, dim = self._weights(), self._component_dim()
        component = self._component_distribution
        within = (weights * component.variance).sum(dim)
        between = (weights * (component.mean - self.mean.unsqueeze(dim)).pow(2)).sum(dim)
        return within + between

    def _pad(self, value):
        return value.unsqueeze(self._component_dim())

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        log_p = self._component_distribution.log_prob(self._pad(value))
        log_weights = torch.log_softmax(self._mixture_distribution.logits, dim=-1)
        return torch.logsumexp(log_p + log_weights, dim=-1)

    def cdf(self, value):
        cdf = self._component_distribution.cdf(self._pad(value))
        return (cdf * torch.softmax(self._mixture_distribution.logits, dim=-1)).sum(-1)

    def sample(self, sample_shape=torch.Size()):
        with torch.no_grad():
            sample_shape = torch.Size(sample_shape)
            choice = self._mixture_distribution.sample(sample_shape)
            draws = self._component_distribution.sample(sample_shape)
            gather_dim = len(sample_shape) + len(self._batch_shape)
            index = choice.reshape(choice.shape + (1,) * (1 + self._event_ndims))
            index = index.expand(choice.shape + (1,) + self.event_shape)
            return draws.gather(gather_dim, index).squeeze(gather_dim)

    def __repr__(self):
        parts = f"{self._mixture_distribution!r},\n  {self._component_distribution!r}"
        return f"MixtureSameFamily(\n  {parts})"
