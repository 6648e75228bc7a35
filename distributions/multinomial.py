"""``Multinomial``: counts of ``total_count`` draws over ``K`` categories."""

import torch
import torch.nn.functional as F

from distributions import constraints
from distributions.binomial import Binomial
from distributions.categorical import Categorical
from distributions.distribution import Distribution
from distributions.utils import broadcast_shape, lazy_property, probs_or_logits, safe_xlogy

__all__ = ["Multinomial"]

# Below this many trials per category, counting categorical draws beats one
# binomial per category (measured on CPU: n = 10, K = 100 is 4x faster by
# counting; n = 100, K = 100 is 3x faster by binomials). Counting stores
# total_count indices per draw, which is then under a quarter of the output.
_COUNTING_TRIALS_PER_CATEGORY = 0.25


class Multinomial(Distribution):
    """Counts ``x`` with ``sum(x) = n`` and pmf ``n! / prod(x_i!) prod(p_i^x_i)``.

    ``probs`` (non-negative, normalized along the last dim) or ``logits``
    (unnormalized log-probabilities) give the ``K`` categories; the event shape
    is ``(K,)``. ``total_count`` is a python int, as in torch, or (beyond
    torch) a tensor of non-negative integers that broadcasts with the batch
    shape, one count per batch element. As in torch, ``log_prob`` reads ``n``
    from ``value.sum(-1)``, so it scores count vectors of any total
    (``validate_args=False`` lifts the support check ``sum(x) <= total_count``).
    Built from ``probs``, a positive count in a category of probability 0
    scores exactly ``-inf``.

    Sampling draws one binomial per category conditioned on the counts so far,
    ``x_k ~ Binomial(n - sum_{j<k} x_j, p_k / sum_{j>=k} p_j)`` (Davis 1993,
    "The computer generation of multinomial random variates", Comput. Stat.
    Data Anal. 16(2)), so memory and time do not grow with ``total_count``;
    when there are many more categories than trials (and one python int
    count) it counts categorical draws instead, which is then both faster and
    smaller.

    Args:
        total_count: number of trials: a non-negative python int, or a tensor of
            them broadcastable with the batch shape.
        probs: event probabilities, shape ``batch + (K,)``.
        logits: event log-probabilities (unnormalized), shape ``batch + (K,)``.
        validate_args: see :class:`Distribution`.

    Raises:
        ValueError: unless exactly one of ``probs`` and ``logits`` is given, when
            it has no category dim, or when ``total_count`` is negative, not
            integer-valued, or does not broadcast with the batch shape.
        TypeError: when ``total_count`` is neither an int nor a tensor.

    Example:
        >>> d = Multinomial(4, probs=torch.tensor([0.5, 0.25, 0.25]))
        >>> d.mean.tolist(), d.mode.tolist()
        ([2.0, 1.0, 1.0], [2.0, 1.0, 1.0])
        >>> round(d.log_prob(torch.tensor([2.0, 1.0, 1.0])).exp().item(), 4)
        0.1875
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        _check_total_count(total_count)
        probs_or_logits("Multinomial", probs, logits)
        name, param = ("probs", probs) if probs is not None else ("logits", logits)
        if not isinstance(param, torch.Tensor) or param.dim() < 1:
            raise ValueError(
                f"Multinomial: argument '{name}' needs a last dim of categories, got "
                f"{_describe(param)}; pass a tensor of shape batch + (K,)"
            )
        categorical = Categorical(**{name: param}, validate_args=False)
        batch_shape = _batch_shape(total_count, categorical.batch_shape)
        if isinstance(total_count, torch.Tensor):
            total_count = total_count.to(param.dtype).expand(batch_shape)
            categorical = categorical.expand(batch_shape)
        self.total_count = total_count
        self._categorical = categorical
        setattr(self, name, getattr(categorical, name))
        self._from_probs = probs is not None
        super().__init__(batch_shape, param.shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Multinomial, _instance)
        batch_shape = torch.Size(batch_shape)
        n = self.total_count
        new.total_count = n.expand(batch_shape) if isinstance(n, torch.Tensor) else n
        new._from_probs = self._from_probs
        new._categorical = self._categorical.expand(batch_shape)
        for name in ("probs", "logits"):
            if name in self.__dict__:
                setattr(new, name, getattr(new._categorical, name))
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)

    @lazy_property
    def logits(self):
        return self._categorical.logits

    @lazy_property
    def probs(self):
        return self._categorical.probs

    @property
    def param_shape(self):
        return self._categorical.param_shape

    def _counts(self):
        """``total_count`` shaped to broadcast against ``batch + (K,)`` tensors."""
        n = self.total_count
        return n.unsqueeze(-1) if isinstance(n, torch.Tensor) else n

    @property
    def mean(self):
        return self._counts() * self.probs

    @property
    def variance(self):
        return self._counts() * self.probs * (1 - self.probs)

    @property
    def mode(self):
        """A most likely count vector (ties go to the lower category index).

        ``log pmf`` is separable and concave in each count under the constraint
        ``sum(x) = n``, so adding trials one at a time where the gain
        ``log p_i - log(x_i + 1)`` is largest is exact (Gross 1956; Ibaraki &
        Katoh 1988, *Resource Allocation Problems*, ch. 4). Starting from
        ``floor(n p)`` is safe because every gain already taken is at least
        ``-log n`` and every gain not taken is below it, so at most ``K - 1``
        greedy steps remain.
        """
        n, probs = self._counts(), self.probs
        counts = (n * probs).floor()
        left = (self.total_count - counts.sum(-1)).clamp(min=0)
        log_p = probs.log()
        while bool((left > 0).any()):
            pick = (log_p - torch.log1p(counts)).argmax(-1)
            step = F.one_hot(pick, probs.shape[-1]).to(probs.dtype) * (left > 0).unsqueeze(-1)
            counts = counts + step
            left = left - (left > 0).to(left.dtype)
        return counts

    def sample(self, sample_shape=torch.Size()):
        shape = torch.Size(sample_shape) + self.batch_shape
        num_categories = self.event_shape[0]
        with torch.no_grad():
            n = self.total_count
            if isinstance(n, int) and n < _COUNTING_TRIALS_PER_CATEGORY * num_categories:
                return self._sample_by_counting(torch.Size(sample_shape))
            return self._sample_by_binomials(shape)

    def _sample_by_counting(self, sample_shape):
        """Scatter-adds ``total_count`` categorical draws per sample (few trials, many K)."""
        index = self._categorical.sample((self.total_count,) + sample_shape)
        index = index.movedim(0, -1)
        zeros = torch.zeros(self._extended_shape(sample_shape), dtype=self.probs.dtype)
        return zeros.scatter_add(-1, index, torch.ones_like(index, dtype=zeros.dtype))

    def _sample_by_binomials(self, shape):
        """Conditional binomials, one category at a time (Davis 1993)."""
        probs = self.probs.expand(shape + self.event_shape)
        # Suffix sums p_k + ... + p_K, not 1 - cumsum, which cancels for late categories.
        rest = probs.flip(-1).cumsum(-1).flip(-1)
        # Derived from probs (not torch.full) so that under vmap both binomial inputs
        # are batched; a batched/unbatched pair makes torch.binomial resize its output.
        left = torch.zeros_like(probs[..., 0]) + self.total_count
        counts = []
        for k in range(self.event_shape[0] - 1):
            share = torch.where(rest[..., k] > 0, probs[..., k] / rest[..., k], 0.0)
            x = Binomial(left, probs=share.clamp(0.0, 1.0), validate_args=False).sample()
            counts.append(x)
            left = left - x
        counts.append(left)
        return torch.stack(counts, -1)

    def enumerate_support(self, expand=True):
        """Every count vector with total ``total_count``, along a new leftmost dim.

        There are ``C(n + K - 1, K - 1)`` of them, so, as in torch,
        ``has_enumerate_support`` stays False: inference never enumerates a
        Multinomial on its own, but it can be asked to explicitly.

        Raises:
            ValueError: when ``total_count`` differs across the batch.
        """
        n = self.total_count
        if isinstance(n, torch.Tensor):
            if not bool((n == n.flatten()[0]).all()):
                raise ValueError(
                    "Multinomial.enumerate_support: total_count differs across the batch "
                    f"(shape {tuple(n.shape)}), so the supports differ; enumerate each "
                    "element's distribution separately"
                )
            n = int(n.flatten()[0])
        values = _compositions(n, self.event_shape[0]).to(self.probs.dtype)
        values = values.view((-1,) + (1,) * len(self.batch_shape) + self.event_shape)
        if expand:
            values = values.expand((-1,) + self.batch_shape + self.event_shape)
        return values

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        if self._from_probs:
            log_powers = safe_xlogy(value, self.probs).sum(-1)
        else:
            # A zero count at a category of logit -inf contributes 0, not nan.
            log_powers = (self.logits * value).masked_fill(value == 0, 0.0).sum(-1)
        log_coef = torch.lgamma(value.sum(-1) + 1) - torch.lgamma(value + 1).sum(-1)
        return log_coef + log_powers

    def entropy(self):
        """``-E[log pmf]`` through each count's ``Binomial(n, p_i)`` marginal.

        With ``log pmf = log n! - sum log x_i! + sum x_i log p_i`` and
        ``E[x_i] = n p_i``, the entropy is
        ``n H(p) - log n! + sum_i E[log x_i!]``, the last sum over the
        values ``1..max(n)`` of each marginal (memory ``max(n) * K`` per batch
        element; values above an element's own ``n`` have probability 0).
        """
        n = self.total_count
        marginal = Binomial(self._counts(), probs=self.probs, validate_args=False)
        top = int(n.max()) if isinstance(n, torch.Tensor) else n
        support = torch.arange(1, top + 1, dtype=self.probs.dtype)  # log 0! = 0 drops k = 0
        support = support.view((-1,) + (1,) * (len(self.batch_shape) + 1))
        weights = torch.lgamma(support + 1)
        expected = (marginal.log_prob(support).exp() * weights).sum((0, -1))
        log_n_factorial = torch.lgamma(torch.as_tensor(n, dtype=self.probs.dtype) + 1.0)
        return n * self._categorical.entropy() - log_n_factorial + expected


def _compositions(n, k):
    """All vectors of ``k`` non-negative integers summing to ``n`` (stars and bars)."""
    if k == 1:
        return torch.tensor([[n]])
    # The k - 1 bar positions among n + k - 1 slots; counts are the gaps between bars.
    bars = torch.combinations(torch.arange(n + k - 1), k - 1)
    if bars.dim() == 1:  # combinations returns 1-d for r = 1
        bars = bars.unsqueeze(-1)
    edges = torch.cat([bars.new_full((bars.shape[0], 1), -1), bars], -1)
    ends = torch.cat([bars, bars.new_full((bars.shape[0], 1), n + k - 1)], -1)
    return ends - edges - 1


def _check_total_count(total_count):
    if isinstance(total_count, bool) or not isinstance(total_count, (int, torch.Tensor)):
        raise TypeError(
            f"Multinomial: argument 'total_count' must be a python int or a tensor of "
            f"non-negative integers, got {type(total_count).__name__} {total_count!r}; "
            "pass int(total_count) for one count, or a tensor for one per batch element"
        )
    if isinstance(total_count, int):
        bad = total_count if total_count < 0 else None
    else:
        invalid = (total_count < 0) | (total_count != total_count.floor())
        bad = total_count[invalid][0].item() if bool(invalid.any()) else None
    if bad is not None:
        raise ValueError(
            f"Multinomial: argument 'total_count' must be a non-negative integer, got {bad}; "
            "pass the number of trials"
        )


def _batch_shape(total_count, batch_shape):
    if not isinstance(total_count, torch.Tensor):
        return batch_shape
    try:
        return broadcast_shape(total_count.shape, batch_shape)
    except RuntimeError:
        raise ValueError(
            f"Multinomial: argument 'total_count' of shape {tuple(total_count.shape)} does not "
            f"broadcast with the batch shape {tuple(batch_shape)} of probs/logits; pass one "
            "count per batch element (or a python int for all)"
        ) from None


def _describe(param):
    if isinstance(param, torch.Tensor):
        return f"a {param.dim()}-d tensor"
    return f"a {type(param).__name__}"
