"""The ``Transform`` base class, its lazy inverse, composition and the identity.

A transform is an invertible (or at least right-invertible) map ``y = f(x)``
between a ``domain`` and a ``codomain`` constraint, with the log absolute
Jacobian determinant ``log|det df/dx|`` needed by the change-of-variables
formula (see e.g. Rezende & Mohamed 2015, "Variational Inference with
Normalizing Flows", arXiv 1505.05770).
"""

from __future__ import annotations

import functools
import operator
import weakref
from collections.abc import Sequence
from typing import Any

import torch

from distributions import constraints
from distributions.utils import sum_rightmost

__all__ = ["ComposeTransform", "Transform", "identity_transform"]


class Transform:
    """Base class of invertible transforms with a computable log-det-Jacobian.

    Subclasses set ``domain``, ``codomain`` and ``bijective`` and implement
    ``_call``, ``_inverse`` and ``log_abs_det_jacobian``; shape-changing
    transforms also override ``forward_shape`` and ``inverse_shape``.

    With ``cache_size=1`` the most recent pair ``(x, y)`` is remembered, so
    ``t.inv(t(x))`` returns ``x`` itself (not a recomputation), which matters for
    transforms whose inverse is lossy or expensive.

    Args:
        cache_size: 0 (no cache) or 1 (remember the latest pair).

    Raises:
        ValueError: for any other ``cache_size``.

    Example:
        >>> from distributions.transforms import ExpTransform
        >>> t = ExpTransform(cache_size=1)
        >>> x = torch.tensor(0.5)
        >>> t.inv(t(x)) is x
        True
    """

    # Subclasses set these as class attributes; the lazy inverse and the
    # composition compute them (properties, hence their `type: ignore[override]`).
    domain: constraints.Constraint
    codomain: constraints.Constraint
    bijective = False

    def __init__(self, cache_size: int = 0) -> None:
        if cache_size not in (0, 1):
            raise ValueError(
                f"{type(self).__name__}: cache_size must be 0 or 1, got {cache_size!r}"
            )
        self._cache_size = cache_size
        self._cached_x_y: tuple[Any, Any] = None, None
        # A weak reference to the inverse; the inverse itself holds its forward transform.
        self._inv: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_inv"] = None  # weak references do not pickle
        return state

    @property
    def event_dim(self) -> int:
        """Event dims of a transform whose domain and codomain agree on them."""
        if self.domain.event_dim != self.codomain.event_dim:
            raise ValueError(
                f"{type(self).__name__}: domain and codomain have different event dims "
                f"({self.domain.event_dim} vs {self.codomain.event_dim}); read "
                ".domain.event_dim or .codomain.event_dim instead"
            )
        return self.domain.event_dim

    @property
    def inv(self) -> Transform:
        """The inverse transform, built once and held weakly to avoid a reference cycle."""
        inv = self._inv() if self._inv is not None else None
        if inv is None:
            inv = _InverseTransform(self)
            self._inv = weakref.ref(inv)
        return inv

    @property
    def sign(self) -> int:
        """+1 or -1 for monotone elementwise transforms; undefined otherwise."""
        raise NotImplementedError(
            f"{type(self).__name__} is not a monotone elementwise transform, so it has no sign"
        )

    def with_cache(self, cache_size: int = 1) -> Transform:
        """Returns this transform with the given ``cache_size`` (self when unchanged)."""
        if self._cache_size == cache_size:
            return self
        if type(self).__init__ is Transform.__init__:
            return type(self)(cache_size=cache_size)
        raise NotImplementedError(
            f"{type(self).__name__} takes constructor arguments, so it must override "
            "with_cache(cache_size) to rebuild itself"
        )

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Applies the transform, consulting the one-slot cache when enabled."""
        if self._cache_size == 0:
            return self._call(x)
        x_old, y_old = self._cached_x_y
        if x is x_old:
            return y_old
        y = self._call(x)
        self._cached_x_y = x, y
        return y

    def _inv_call(self, y: torch.Tensor) -> torch.Tensor:
        """Inverts the transform, consulting the one-slot cache when enabled."""
        if self._cache_size == 0:
            return self._inverse(y)
        x_old, y_old = self._cached_x_y
        if y is y_old:
            return x_old
        x = self._inverse(y)
        self._cached_x_y = x, y
        return x

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not define the forward map _call")

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not define the inverse _inverse")

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``log|det dy/dx|`` summed over the domain's event dims, given ``y = self(x)``."""
        raise NotImplementedError(f"{type(self).__name__} does not define log_abs_det_jacobian")

    def forward_shape(self, shape: torch.Size) -> torch.Size:
        """The shape of ``self(x)`` for ``x`` of shape ``shape``."""
        return shape

    def inverse_shape(self, shape: torch.Size) -> torch.Size:
        """The shape of ``self.inv(y)`` for ``y`` of shape ``shape``."""
        return shape

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _InverseTransform(Transform):
    """The inverse of a transform: swaps ``_call``/``_inverse`` and negates the log-det."""

    def __init__(self, transform: Transform) -> None:
        super().__init__(cache_size=transform._cache_size)
        self._inv = transform  # a strong reference: the forward transform owns the cache

    @property
    def domain(self) -> constraints.Constraint:  # type: ignore[override]
        return self._inv.codomain

    @property
    def codomain(self) -> constraints.Constraint:  # type: ignore[override]
        return self._inv.domain

    @property
    def bijective(self) -> bool:  # type: ignore[override]
        return self._inv.bijective

    @property
    def sign(self) -> int:
        return self._inv.sign

    @property
    def inv(self) -> Transform:
        return self._inv

    def with_cache(self, cache_size: int = 1) -> Transform:
        return self.inv.with_cache(cache_size).inv

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _InverseTransform) and self._inv == other._inv

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self._inv._inv_call(x)

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return -self._inv.log_abs_det_jacobian(y, x)

    def forward_shape(self, shape: torch.Size) -> torch.Size:
        return self._inv.inverse_shape(shape)

    def inverse_shape(self, shape: torch.Size) -> torch.Size:
        return self._inv.forward_shape(shape)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._inv!r})"


class ComposeTransform(Transform):
    """Applies ``parts`` in order: ``parts[-1](...parts[0](x))``.

    Event dims are tracked through the chain, so composing an elementwise
    transform after one with a vector event (e.g. ``StickBreakingTransform``)
    sums the elementwise log-dets over that event.

    Args:
        parts: the transforms to chain; an empty list is the identity.
        cache_size: 0 or 1, passed on to every part.

    Example:
        >>> from distributions.transforms import AffineTransform, ExpTransform
        >>> t = ComposeTransform([AffineTransform(1.0, 2.0), ExpTransform()])
        >>> round(t(torch.tensor(0.0)).item(), 4)
        2.7183
    """

    def __init__(self, parts: Sequence[Transform], cache_size: int = 0) -> None:
        parts = list(parts)
        if cache_size:
            parts = [part.with_cache(cache_size) for part in parts]
        super().__init__(cache_size=cache_size)
        self.parts = parts

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ComposeTransform) and self.parts == other.parts

    @functools.cached_property
    def domain(self) -> constraints.Constraint:  # type: ignore[override]
        if not self.parts:
            return constraints.real
        # Walk backwards: each part may need more event dims than the parts after it.
        event_dim = self.parts[-1].codomain.event_dim
        for part in reversed(self.parts):
            event_dim += part.domain.event_dim - part.codomain.event_dim
            event_dim = max(event_dim, part.domain.event_dim)
        return _widen(self.parts[0].domain, event_dim)

    @functools.cached_property
    def codomain(self) -> constraints.Constraint:  # type: ignore[override]
        if not self.parts:
            return constraints.real
        event_dim = self.parts[0].domain.event_dim
        for part in self.parts:
            event_dim += part.codomain.event_dim - part.domain.event_dim
            event_dim = max(event_dim, part.codomain.event_dim)
        return _widen(self.parts[-1].codomain, event_dim)

    @property
    def bijective(self) -> bool:  # type: ignore[override]
        return all(part.bijective for part in self.parts)

    @property
    def sign(self) -> int:
        return functools.reduce(operator.mul, (part.sign for part in self.parts), 1)

    @property
    def inv(self) -> Transform:
        inv = self._inv() if self._inv is not None else None
        if inv is None:
            inv = ComposeTransform([part.inv for part in reversed(self.parts)])
            self._inv = weakref.ref(inv)
            inv._inv = weakref.ref(self)
        return inv

    def with_cache(self, cache_size: int = 1) -> Transform:
        if self._cache_size == cache_size:
            return self
        return ComposeTransform(self.parts, cache_size=cache_size)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for part in self.parts:
            x = part(x)
        return x

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if not self.parts:
            return torch.zeros_like(x)
        # Recompute intermediates (cheap when parts cache); the last one is y itself.
        xs = [x]
        for part in self.parts[:-1]:
            xs.append(part(xs[-1]))
        xs.append(y)
        terms = []
        event_dim = self.domain.event_dim
        for part, x_in, x_out in zip(self.parts, xs[:-1], xs[1:]):
            term = part.log_abs_det_jacobian(x_in, x_out)
            terms.append(sum_rightmost(term, event_dim - part.domain.event_dim))
            event_dim += part.codomain.event_dim - part.domain.event_dim
        return functools.reduce(operator.add, terms)

    def forward_shape(self, shape: torch.Size) -> torch.Size:
        for part in self.parts:
            shape = part.forward_shape(shape)
        return shape

    def inverse_shape(self, shape: torch.Size) -> torch.Size:
        for part in reversed(self.parts):
            shape = part.inverse_shape(shape)
        return shape

    def __repr__(self) -> str:
        if not self.parts:
            return f"{type(self).__name__}()"
        inner = ",\n    ".join(repr(part) for part in self.parts)
        return f"{type(self).__name__}(\n    {inner}\n)"


def _widen(constraint: constraints.Constraint, event_dim: int) -> constraints.Constraint:
    """Reinterprets batch dims of ``constraint`` as event dims up to ``event_dim``."""
    if event_dim > constraint.event_dim:
        return constraints.independent(constraint, event_dim - constraint.event_dim)
    return constraint


identity_transform = ComposeTransform([])
