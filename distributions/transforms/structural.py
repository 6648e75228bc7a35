"""Transforms that rearrange dims or combine other transforms over blocks of a tensor."""

import functools
import operator

import torch

from distributions import constraints
from distributions.transforms.base import Transform
from distributions.utils import sum_rightmost

__all__ = ["CatTransform", "IndependentTransform", "ReshapeTransform", "StackTransform"]


class IndependentTransform(Transform):
    """Wraps ``base_transform`` so ``reinterpreted_batch_ndims`` more dims form the event.

    The log-det is summed over those extra dims, as for
    :class:`~distributions.Independent` distributions.

    Args:
        base_transform: the wrapped transform.
        reinterpreted_batch_ndims: how many batch dims become event dims.
        cache_size: see :class:`Transform`.

    Example:
        >>> from distributions.transforms import ExpTransform
        >>> t = IndependentTransform(ExpTransform(), 1)
        >>> t.log_abs_det_jacobian(torch.ones(2, 3), None).shape
        torch.Size([2])
    """

    def __init__(self, base_transform, reinterpreted_batch_ndims, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.base_transform = base_transform.with_cache(cache_size)
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return IndependentTransform(
            self.base_transform, self.reinterpreted_batch_ndims, cache_size=cache_size
        )

    @property
    def domain(self):
        return constraints.independent(self.base_transform.domain, self.reinterpreted_batch_ndims)

    @property
    def codomain(self):
        return constraints.independent(self.base_transform.codomain, self.reinterpreted_batch_ndims)

    @property
    def bijective(self):
        return self.base_transform.bijective

    @property
    def sign(self):
        return self.base_transform.sign

    def _check_dims(self, value, constraint):
        if value.dim() < constraint.event_dim:
            raise ValueError(
                f"{type(self).__name__}: input of shape {tuple(value.shape)} has too few dims; "
                f"expected at least {constraint.event_dim} (the event dims)"
            )

    def _call(self, x):
        self._check_dims(x, self.domain)
        return self.base_transform(x)

    def _inverse(self, y):
        self._check_dims(y, self.codomain)
        return self.base_transform.inv(y)

    def log_abs_det_jacobian(self, x, y):
        result = self.base_transform.log_abs_det_jacobian(x, y)
        return sum_rightmost(result, self.reinterpreted_batch_ndims)

    def forward_shape(self, shape):
        return self.base_transform.forward_shape(shape)

    def inverse_shape(self, shape):
        return self.base_transform.inverse_shape(shape)

    def __repr__(self):
        return f"{type(self).__name__}({self.base_transform!r}, {self.reinterpreted_batch_ndims})"


class ReshapeTransform(Transform):
    """Reshapes the rightmost dims from ``in_shape`` to ``out_shape`` (same element count).

    Args:
        in_shape: the event shape of the input.
        out_shape: the event shape of the output.
        cache_size: see :class:`Transform`.

    Raises:
        ValueError: when the two shapes hold different numbers of elements.

    Example:
        >>> ReshapeTransform((4,), (2, 2))(torch.zeros(3, 4)).shape
        torch.Size([3, 2, 2])
    """

    bijective = True

    def __init__(self, in_shape, out_shape, cache_size=0):
        self.in_shape = torch.Size(in_shape)
        self.out_shape = torch.Size(out_shape)
        if self.in_shape.numel() != self.out_shape.numel():
            raise ValueError(
                f"ReshapeTransform: in_shape {tuple(self.in_shape)} has "
                f"{self.in_shape.numel()} elements but out_shape {tuple(self.out_shape)} has "
                f"{self.out_shape.numel()}; they must match"
            )
        super().__init__(cache_size=cache_size)

    @property
    def domain(self):
        return constraints.independent(constraints.real, len(self.in_shape))

    @property
    def codomain(self):
        return constraints.independent(constraints.real, len(self.out_shape))

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return ReshapeTransform(self.in_shape, self.out_shape, cache_size=cache_size)

    def _call(self, x):
        batch_shape = _split(x.shape, self.in_shape, "input")
        return x.reshape(batch_shape + self.out_shape)

    def _inverse(self, y):
        batch_shape = _split(y.shape, self.out_shape, "output")
        return y.reshape(batch_shape + self.in_shape)

    def log_abs_det_jacobian(self, x, y):
        batch_shape = x.shape[: x.dim() - len(self.in_shape)]
        return x.new_zeros(batch_shape)

    def forward_shape(self, shape):
        return _split(shape, self.in_shape, "input") + self.out_shape

    def inverse_shape(self, shape):
        return _split(shape, self.out_shape, "output") + self.in_shape

    def __repr__(self):
        return f"{type(self).__name__}({tuple(self.in_shape)}, {tuple(self.out_shape)})"


def _split(shape, event_shape, what):
    """Returns the batch part of ``shape``, checking that it ends in ``event_shape``."""
    cut = len(shape) - len(event_shape)
    if cut < 0 or torch.Size(shape[cut:]) != event_shape:
        raise ValueError(
            f"ReshapeTransform: {what} shape {tuple(shape)} does not end in the event shape "
            f"{tuple(event_shape)}"
        )
    return torch.Size(shape[:cut])


def _check_dim(name, dim, value):
    if not -value.dim() <= dim < value.dim():
        raise ValueError(
            f"{name}: dim {dim} is out of range for a tensor of shape {tuple(value.shape)}"
        )


def _is_batch_dim(dim, ndim, event_dim):
    """Whether ``dim`` of an ``ndim``-dim tensor lies left of its ``event_dim`` event dims."""
    return dim % ndim < ndim - event_dim


class CatTransform(Transform):
    """Applies ``tseq[i]`` to the ``i``-th block (``lengths[i]`` wide) along ``dim``.

    Blocks are laid out as by :func:`torch.cat`. When ``dim`` is one of the event
    dims the blocks' log-dets are added; otherwise they are concatenated.

    Args:
        tseq: the transforms, each with equal domain and codomain event dims.
        dim: the dim along which blocks are laid out.
        lengths: block widths (default 1 each).
        cache_size: see :class:`Transform`.

    Example:
        >>> from distributions.transforms import ExpTransform, identity_transform
        >>> t = CatTransform([ExpTransform(), identity_transform], dim=0, lengths=[1, 2])
        >>> t(torch.zeros(3))
        tensor([1., 0., 0.])
    """

    def __init__(self, tseq, dim=0, lengths=None, cache_size=0):
        tseq = list(tseq)
        if not all(isinstance(t, Transform) for t in tseq):
            raise TypeError("CatTransform: every entry of tseq must be a Transform")
        self.transforms = [t.with_cache(cache_size) for t in tseq]
        super().__init__(cache_size=cache_size)
        self.lengths = [1] * len(self.transforms) if lengths is None else list(lengths)
        if len(self.lengths) != len(self.transforms):
            raise ValueError(
                f"CatTransform: got {len(self.transforms)} transforms but "
                f"{len(self.lengths)} lengths; pass one length per transform"
            )
        self.dim = dim

    @functools.cached_property
    def event_dim(self):
        return max(t.event_dim for t in self.transforms)

    @property
    def length(self):
        """The total size along ``dim``."""
        return sum(self.lengths)

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return CatTransform(self.transforms, self.dim, self.lengths, cache_size=cache_size)

    def _map_blocks(self, value, method):
        _check_dim("CatTransform", self.dim, value)
        if value.size(self.dim) != self.length:
            raise ValueError(
                f"CatTransform: input has size {value.size(self.dim)} along dim {self.dim} "
                f"but the block lengths {self.lengths} sum to {self.length}"
            )
        blocks, start = [], 0
        for t, length in zip(self.transforms, self.lengths):
            blocks.append(method(t)(value.narrow(self.dim, start, length)))
            start = start + length
        return torch.cat(blocks, dim=self.dim)

    def _call(self, x):
        return self._map_blocks(x, lambda t: t)

    def _inverse(self, y):
        return self._map_blocks(y, lambda t: t.inv)

    def log_abs_det_jacobian(self, x, y):
        _check_dim("CatTransform", self.dim, x)
        terms, start = [], 0
        for t, length in zip(self.transforms, self.lengths):
            xs, ys = x.narrow(self.dim, start, length), y.narrow(self.dim, start, length)
            term = t.log_abs_det_jacobian(xs, ys)
            terms.append(sum_rightmost(term, self.event_dim - t.event_dim))
            start = start + length
        if _is_batch_dim(self.dim, x.dim(), self.event_dim):
            return torch.cat(terms, dim=self.dim)
        return functools.reduce(operator.add, terms)

    @property
    def bijective(self):
        return all(t.bijective for t in self.transforms)

    @property
    def domain(self):
        return constraints.cat([t.domain for t in self.transforms], self.dim, self.lengths)

    @property
    def codomain(self):
        return constraints.cat([t.codomain for t in self.transforms], self.dim, self.lengths)

    def __repr__(self):
        return f"{type(self).__name__}({self.transforms!r}, dim={self.dim}, lengths={self.lengths})"


class StackTransform(Transform):
    """Applies ``tseq[i]`` to ``x.select(dim, i)`` and stacks the results along ``dim``.

    When ``dim`` is one of the event dims (a negative ``dim`` left of the parts'
    event dims, as for :func:`~distributions.constraints.stack`) the log-dets
    of the slices are added, so the result has the batch shape; otherwise they
    are stacked.

    Args:
        tseq: one transform per slice.
        dim: the stacked dim.
        cache_size: see :class:`Transform`.

    Example:
        >>> from distributions.transforms import ExpTransform, identity_transform
        >>> StackTransform([ExpTransform(), identity_transform], dim=0)(torch.zeros(2))
        tensor([1., 0.])
    """

    def __init__(self, tseq, dim=0, cache_size=0):
        tseq = list(tseq)
        if not all(isinstance(t, Transform) for t in tseq):
            raise TypeError("StackTransform: every entry of tseq must be a Transform")
        self.transforms = [t.with_cache(cache_size) for t in tseq]
        super().__init__(cache_size=cache_size)
        self.dim = dim

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return StackTransform(self.transforms, self.dim, cache_size=cache_size)

    def _slices(self, value):
        _check_dim("StackTransform", self.dim, value)
        if value.size(self.dim) != len(self.transforms):
            raise ValueError(
                f"StackTransform: input has size {value.size(self.dim)} along dim {self.dim} "
                f"but {len(self.transforms)} transforms are stacked"
            )
        return [value.select(self.dim, i) for i in range(len(self.transforms))]

    def _call(self, x):
        parts = [t(xi) for t, xi in zip(self.transforms, self._slices(x))]
        return torch.stack(parts, dim=self.dim)

    def _inverse(self, y):
        parts = [t.inv(yi) for t, yi in zip(self.transforms, self._slices(y))]
        return torch.stack(parts, dim=self.dim)

    def log_abs_det_jacobian(self, x, y):
        inner = max(t.domain.event_dim for t in self.transforms)
        terms = [
            sum_rightmost(t.log_abs_det_jacobian(xi, yi), inner - t.domain.event_dim)
            for t, xi, yi in zip(self.transforms, self._slices(x), self._slices(y))
        ]
        if _is_batch_dim(self.dim, x.dim(), self.domain.event_dim):
            return torch.stack(terms, dim=self.dim)
        return functools.reduce(operator.add, terms)

    @property
    def bijective(self):
        return all(t.bijective for t in self.transforms)

    @property
    def domain(self):
        return constraints.stack([t.domain for t in self.transforms], self.dim)

    @property
    def codomain(self):
        return constraints.stack([t.codomain for t in self.transforms], self.dim)

    def __repr__(self):
        return f"{type(self).__name__}({self.transforms!r}, dim={self.dim})"
