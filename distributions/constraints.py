"""Constraints: the sets a parameter or a sample must lie in.

A constraint answers ``check(value)`` with a boolean tensor over the batch
dims of ``value``: the rightmost ``event_dim`` dims form one point and are
reduced. Checks run on every validated construction, so each one uses the
fewest tensor ops that decide membership; the human-readable ``description``
is built only when an error message needs it.

The public names match ``torch.distributions.constraints`` so code written
against torch runs unchanged; the private class names (``_Interval`` ...)
match too, since registries and user code dispatch on them.

Example:
    >>> import torch
    >>> positive.check(torch.tensor([1.0, -1.0]))
    tensor([ True, False])
    >>> interval(0.0, 2.0).description
    '0.0 <= x <= 2.0'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

__all__ = [
    "Constraint",
    "MixtureSameFamilyConstraint",
    "boolean",
    "cat",
    "corr_cholesky",
    "dependent",
    "dependent_property",
    "greater_than",
    "greater_than_eq",
    "half_open_interval",
    "independent",
    "integer_interval",
    "interval",
    "is_dependent",
    "less_than",
    "lower_cholesky",
    "lower_triangular",
    "multinomial",
    "nonnegative",
    "nonnegative_integer",
    "one_hot",
    "positive",
    "positive_definite",
    "positive_integer",
    "positive_semidefinite",
    "real",
    "real_vector",
    "simplex",
    "square",
    "stack",
    "symmetric",
    "unit_interval",
]


def _fmt(bound: Any) -> str:
    """Formats a bound for a message without printing a whole tensor."""
    if isinstance(bound, torch.Tensor):
        if bound.numel() == 1:
            return repr(bound.item())
        return f"<tensor of shape {tuple(bound.shape)}>"
    return repr(bound)


class Constraint:
    """Base class of constraints.

    Attributes:
        is_discrete: whether the constrained space is discrete.
        event_dim: number of rightmost dims that together form one point.

    Subclasses implement ``check``; ``description`` says in words what the
    constraint requires (used by validation errors).

    Example:
        >>> real.check(torch.tensor(float("nan")))
        tensor(False)
    """

    # Plain class attributes here; wrappers compute them (properties, hence
    # their `type: ignore[override]`: mypy forbids a read-only override).
    is_discrete = False
    event_dim = 0

    def check(self, value: torch.Tensor) -> torch.Tensor:
        """Returns a bool tensor of shape ``value.shape[:value.dim() - event_dim]``."""
        raise NotImplementedError(f"{type(self).__name__} does not define check()")

    @property
    def description(self) -> str:
        """A short human-readable statement of the constraint."""
        return repr(self)

    def _params(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__.lstrip('_')}({self._params()})"


# --------------------------------------------------------------------- dependent
class _Dependent(Constraint):
    """Placeholder for a set that depends on other parameters (e.g. Uniform's support).

    ``is_discrete`` and ``event_dim`` may be given when they are known statically;
    otherwise reading them raises ``NotImplementedError``.
    """

    def __init__(
        self, *, is_discrete: Any = NotImplemented, event_dim: Any = NotImplemented
    ) -> None:
        self._is_discrete = is_discrete
        self._event_dim = event_dim

    @property
    def is_discrete(self) -> bool:  # type: ignore[override]
        if self._is_discrete is NotImplemented:
            raise NotImplementedError(
                "dependent constraint: .is_discrete is not known statically; read it "
                "from the support of a distribution instance"
            )
        return self._is_discrete

    @property
    def event_dim(self) -> int:  # type: ignore[override]
        if self._event_dim is NotImplemented:
            raise NotImplementedError(
                "dependent constraint: .event_dim is not known statically; read it "
                "from the support of a distribution instance"
            )
        return self._event_dim

    def __call__(
        self, *, is_discrete: Any = NotImplemented, event_dim: Any = NotImplemented
    ) -> _Dependent:
        """Returns a copy with static attributes, as in ``dependent(event_dim=1)``."""
        if is_discrete is NotImplemented:
            is_discrete = self._is_discrete
        if event_dim is NotImplemented:
            event_dim = self._event_dim
        return _Dependent(is_discrete=is_discrete, event_dim=event_dim)

    def check(self, value: torch.Tensor) -> torch.Tensor:
        raise ValueError(
            "Cannot check a dependent constraint: its set depends on other parameters. "
            "Check against the support of a distribution instance (dist.support) instead."
        )

    @property
    def description(self) -> str:
        return "a set that depends on other parameters"


class _DependentProperty(property, _Dependent):
    """A property on instances that reads as a dependent constraint on the class.

    Example:
        >>> class Box:
        ...     def __init__(self, high):
        ...         self.high = high
        ...     @dependent_property(is_discrete=False, event_dim=0)
        ...     def support(self):
        ...         return interval(0.0, self.high)
        >>> is_dependent(Box.support), Box(2.0).support.upper_bound
        (True, 2.0)
    """

    def __init__(
        self,
        fn: Callable[[Any], Constraint] | None = None,
        *,
        is_discrete: Any = NotImplemented,
        event_dim: Any = NotImplemented,
    ) -> None:
        property.__init__(self, fn)
        self._is_discrete = is_discrete
        self._event_dim = event_dim

    def __call__(self, fn: Callable[[Any], Constraint]) -> _DependentProperty:  # type: ignore[override]
        """Decorates ``fn`` keeping the static attributes given at construction."""
        return _DependentProperty(fn, is_discrete=self._is_discrete, event_dim=self._event_dim)


def is_dependent(constraint: object) -> bool:
    """Whether ``constraint`` is a dependent placeholder (whose ``check`` cannot run).

    torch.distributions' dependent placeholders count too (the supports of
    distributions written against torch), recognised by their class.

    Example:
        >>> is_dependent(dependent), is_dependent(real)
        (True, False)
    """
    if isinstance(constraint, Constraint):
        return isinstance(constraint, _Dependent)
    cls = type(constraint)
    return cls.__module__ == "torch.distributions.constraints" and cls.__name__ in (
        "_Dependent",
        "_DependentProperty",
    )


# ------------------------------------------------------------------- reshaping
class _IndependentConstraint(Constraint):
    """Treats ``reinterpreted_batch_ndims`` more batch dims of ``base_constraint`` as event."""

    def __init__(self, base_constraint: Constraint, reinterpreted_batch_ndims: int) -> None:
        if not isinstance(base_constraint, Constraint):
            raise TypeError(
                f"independent: base_constraint must be a Constraint, got "
                f"{type(base_constraint).__name__}"
            )
        if not isinstance(reinterpreted_batch_ndims, int) or reinterpreted_batch_ndims < 0:
            raise ValueError(
                f"independent: reinterpreted_batch_ndims must be an int >= 0, got "
                f"{reinterpreted_batch_ndims!r}"
            )
        self.base_constraint = base_constraint
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims

    @property
    def is_discrete(self) -> bool:  # type: ignore[override]
        return self.base_constraint.is_discrete

    @property
    def event_dim(self) -> int:  # type: ignore[override]
        return self.base_constraint.event_dim + self.reinterpreted_batch_ndims

    def check(self, value: torch.Tensor) -> torch.Tensor:
        result = self.base_constraint.check(value)
        n = self.reinterpreted_batch_ndims
        if result.dim() < n:
            raise ValueError(
                f"{self!r}: value of shape {tuple(value.shape)} has too few dims; expected "
                f"at least {self.event_dim} (the constraint's event_dim)"
            )
        if n == 0:
            return result
        if n > 1:
            result = result.flatten(-n)
        return result.all(-1)

    @property
    def description(self) -> str:
        return f"{self.base_constraint.description}, over the rightmost {self.event_dim} dim(s)"

    def __repr__(self) -> str:
        name = type(self).__name__.lstrip("_")
        return f"{name}({self.base_constraint!r}, {self.reinterpreted_batch_ndims})"


class MixtureSameFamilyConstraint(Constraint):
    """The support of a mixture: the component support, checked against every component.

    Args:
        base_constraint: the component distribution's support.

    Example:
        >>> MixtureSameFamilyConstraint(positive).check(torch.tensor([1.0, -1.0]))
        tensor([ True, False])
    """

    def __init__(self, base_constraint: Constraint) -> None:
        if not isinstance(base_constraint, Constraint):
            raise TypeError(
                f"MixtureSameFamilyConstraint: base_constraint must be a Constraint, got "
                f"{type(base_constraint).__name__}"
            )
        self.base_constraint = base_constraint

    @property
    def is_discrete(self) -> bool:  # type: ignore[override]
        return self.base_constraint.is_discrete

    @property
    def event_dim(self) -> int:  # type: ignore[override]
        return self.base_constraint.event_dim

    def check(self, value: torch.Tensor) -> torch.Tensor:
        event_dim = self.event_dim
        if value.dim() < event_dim:
            raise ValueError(
                f"{self!r}: value of shape {tuple(value.shape)} has fewer than "
                f"{event_dim} dims (the event_dim)"
            )
        # The value broadcasts against the component dim, which sits just left of the event.
        result = self.base_constraint.check(value.unsqueeze(-1 - event_dim))
        return result.flatten(value.dim() - event_dim).all(-1)

    @property
    def description(self) -> str:
        return self.base_constraint.description

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_constraint!r})"


def _reduce_to(result: torch.Tensor, ndim: int) -> torch.Tensor:
    """Reduces the rightmost dims of ``result`` with ``all`` until it has ``ndim`` dims."""
    extra = result.dim() - ndim
    if extra <= 0:
        return result
    return result.flatten(-extra).all(-1)


class _Cat(Constraint):
    """Applies ``cseq[i]`` to the ``i``-th block of ``lengths[i]`` entries along ``dim``.

    Blocks are laid out as by :func:`torch.cat`. When ``dim`` is an event dim the
    block results are combined with ``and``; otherwise they are concatenated.
    """

    def __init__(
        self, cseq: Sequence[Constraint], dim: int = 0, lengths: Sequence[int] | None = None
    ) -> None:
        self.cseq = list(cseq)
        if not all(isinstance(c, Constraint) for c in self.cseq):
            raise TypeError("cat: every entry of cseq must be a Constraint")
        self.lengths = [1] * len(self.cseq) if lengths is None else list(lengths)
        if len(self.lengths) != len(self.cseq):
            raise ValueError(
                f"cat: got {len(self.cseq)} constraints but {len(self.lengths)} lengths; "
                "pass one length per constraint"
            )
        self.dim = dim

    @property
    def is_discrete(self) -> bool:  # type: ignore[override]
        return any(c.is_discrete for c in self.cseq)

    @property
    def event_dim(self) -> int:  # type: ignore[override]
        return max(c.event_dim for c in self.cseq)

    def check(self, value: torch.Tensor) -> torch.Tensor:
        ndim = value.dim()
        if not -ndim <= self.dim < ndim:
            raise ValueError(f"{self!r}: dim {self.dim} is out of range for a {ndim}-dim value")
        batch_ndim = ndim - self.event_dim
        results, start = [], 0
        for c, length in zip(self.cseq, self.lengths):
            block = value.narrow(self.dim, start, length)
            results.append(_reduce_to(c.check(block), batch_ndim))
            start = start + length
        if self.dim % ndim < batch_ndim:
            return torch.cat(results, self.dim)
        return torch.stack(results, -1).all(-1)

    @property
    def description(self) -> str:
        parts = ", ".join(c.description for c in self.cseq)
        return f"blocks along dim {self.dim} of lengths {self.lengths} satisfying [{parts}]"

    def _params(self) -> str:
        return f"{self.cseq!r}, dim={self.dim}, lengths={self.lengths}"


class _Stack(Constraint):
    """Applies ``cseq[i]`` to ``value.select(dim, i)``, laid out as by :func:`torch.stack`.

    As in torch, a negative ``dim`` left of the components' event dims makes the
    stacked dim part of the event.
    """

    def __init__(self, cseq: Sequence[Constraint], dim: int = 0) -> None:
        self.cseq = list(cseq)
        if not all(isinstance(c, Constraint) for c in self.cseq):
            raise TypeError("stack: every entry of cseq must be a Constraint")
        self.dim = dim

    @property
    def is_discrete(self) -> bool:  # type: ignore[override]
        return any(c.is_discrete for c in self.cseq)

    @property
    def event_dim(self) -> int:  # type: ignore[override]
        dim = max(c.event_dim for c in self.cseq)
        return dim + 1 if self.dim + dim < 0 else dim

    def check(self, value: torch.Tensor) -> torch.Tensor:
        ndim = value.dim()
        if not -ndim <= self.dim < ndim:
            raise ValueError(f"{self!r}: dim {self.dim} is out of range for a {ndim}-dim value")
        if value.size(self.dim) != len(self.cseq):
            raise ValueError(
                f"{self!r}: value has size {value.size(self.dim)} along dim {self.dim} but "
                f"{len(self.cseq)} constraints are stacked"
            )
        batch_ndim = ndim - self.event_dim
        inner_ndim = ndim - 1 - max(c.event_dim for c in self.cseq)
        results = [
            _reduce_to(c.check(value.select(self.dim, i)), inner_ndim)
            for i, c in enumerate(self.cseq)
        ]
        if self.dim % ndim < batch_ndim:
            return torch.stack(results, self.dim)
        return torch.stack(results, -1).all(-1)

    @property
    def description(self) -> str:
        parts = ", ".join(c.description for c in self.cseq)
        return f"slices along dim {self.dim} satisfying [{parts}]"

    def _params(self) -> str:
        return f"{self.cseq!r}, dim={self.dim}"


# ------------------------------------------------------------------- discrete
class _Boolean(Constraint):
    """The set {0, 1}."""

    is_discrete = True

    def check(self, value: torch.Tensor) -> torch.Tensor:
        return (value == 0) | (value == 1)

    @property
    def description(self) -> str:
        return "x in {0, 1}"


class _OneHot(Constraint):
    """One-hot vectors, entries in {0, 1} summing to 1 along the last dim."""

    is_discrete = True
    event_dim = 1

    def check(self, value: torch.Tensor) -> torch.Tensor:
        is_binary = ((value == 0) | (value == 1)).all(-1)
        return is_binary & (value.sum(-1) == 1)

    @property
    def description(self) -> str:
        return "a one-hot vector (entries in {0, 1} summing to 1) along the last dim"


class _IntegerInterval(Constraint):
    """Integers in ``[lower_bound, upper_bound]``."""

    is_discrete = True

    def __init__(self, lower_bound: int | torch.Tensor, upper_bound: int | torch.Tensor) -> None:
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound

    def check(self, value: torch.Tensor) -> torch.Tensor:
        # ``% 1`` is NaN at +-inf, so infinities are not integers.
        is_int = value % 1 == 0
        return is_int & (value >= self.lower_bound) & (value <= self.upper_bound)

    @property
    def description(self) -> str:
        return f"integer x with {_fmt(self.lower_bound)} <= x <= {_fmt(self.upper_bound)}"

    def _params(self) -> str:
        return f"lower_bound={_fmt(self.lower_bound)}, upper_bound={_fmt(self.upper_bound)}"


class _IntegerLessThan(Constraint):
    """Integers ``<= upper_bound``."""

    is_discrete = True

    def __init__(self, upper_bound: int | torch.Tensor) -> None:
        self.upper_bound = upper_bound

    def check(self, value: torch.Tensor) -> torch.Tensor:
        return (value % 1 == 0) & (value <= self.upper_bound)

    @property
    def description(self) -> str:
        return f"integer x <= {_fmt(self.upper_bound)}"

    def _params(self) -> str:
        return f"upper_bound={_fmt(self.upper_bound)}"


class _IntegerGreaterThan(Constraint):
    """Integers ``>= lower_bound``."""

    is_discrete = True

    def __init__(self, lower_bound: int | torch.Tensor) -> None:
        self.lower_bound = lower_bound

    def check(self, value: torch.Tensor) -> torch.Tensor:
        return (value % 1 == 0) & (value >= self.lower_bound)

    @property
    def description(self) -> str:
        return f"integer x >= {_fmt(self.lower_bound)}"

    def _params(self) -> str:
        return f"lower_bound={_fmt(self.lower_bound)}"


class _Multinomial(Constraint):
    """Nonnegative count vectors whose total is at most ``upper_bound``.

    As in torch, integrality of the counts is not checked.
    """

    is_discrete = True
    event_dim = 1

    def __init__(self, upper_bound: int | torch.Tensor) -> None:
        self.upper_bound = upper_bound

    def check(self, value: torch.Tensor) -> torch.Tensor:
        return (value >= 0).all(-1) & (value.sum(-1) <= self.upper_bound)

    @property
    def description(self) -> str:
        return f"nonnegative counts along the last dim with total <= {_fmt(self.upper_bound)}"

    def _params(self) -> str:
        return f"upper_bound={_fmt(self.upper_bound)}"


# ----------------------------------------------------------------- real lines
class _Real(Constraint):
    """The extended real line; only NaN fails."""

    def check(self, value: torch.Tensor) -> torch.Tensor:
        return value == value  # False exactly at NaN

    @property
    def description(self) -> str:
        return "a real number (not NaN)"


class _GreaterThan(Constraint):
    """``x > lower_bound``."""

    def __init__(self, lower_bound: float | torch.Tensor) -> None:
        self.lower_bound = lower_bound

    def check(self, value: torch.Tensor) -> torch.Tensor:
        return value > self.lower_bound

    @property
    def description(self) -> str:
        return f"x > {_fmt(self.lower_bound)}"

    def _params(self) -> str:
        return f"lower_bound={_fmt(self.lower_bound)}"


class _GreaterThanEq(Constraint):
    """``x >= lower_bound``."""

    def __init__(self, lower_bound: float | torch.Tensor) -> None:
        self.lower_bound = lower_bound

    def check(self, value: torch.Tensor) -> torch.Tensor:
        return value >= self.lower_bound

    @property
    def description(self) -> str:
        return f"x >= {_fmt(self.lower_bound)}"

    def _params(self) -> str:
        return f"lower_bound={_fmt(self.lower_bound)}"


class _LessThan(Constraint):
    """``x < upper_bound``."""

    def __init__(self, upper_bound: float | torch.Tensor) -> None:
        self.upper_bound = upper_bound

    def check(self, value: torch.Tensor) -> torch.Tensor:
        return value < self.upper_bound

    @property
    def description(self) -> str:
        return f"x < {_fmt(self.upper_bound)}"

    def _params(self) -> str:
        return f"upper_bound={_fmt(self.upper_bound)}"


class _Interval(Constraint):
    """``lower_bound <= x <= upper_bound``."""

    def __init__(
        self, lower_bound: float | torch.Tensor, upper_bound: float | torch.Tensor
    ) -> None:
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound

    def check(self, value: torch.Tensor) -> torch.Tensor:
        return (value >= self.lower_bound) & (value <= self.upper_bound)

    @property
    def description(self) -> str:
        return f"{_fmt(self.lower_bound)} <= x <= {_fmt(self.upper_bound)}"

    def _params(self) -> str:
        return f"lower_bound={_fmt(self.lower_bound)}, upper_bound={_fmt(self.upper_bound)}"


class _HalfOpenInterval(Constraint):
    """``lower_bound <= x < upper_bound``."""

    def __init__(
        self, lower_bound: float | torch.Tensor, upper_bound: float | torch.Tensor
    ) -> None:
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound

    def check(self, value: torch.Tensor) -> torch.Tensor:
        return (value >= self.lower_bound) & (value < self.upper_bound)

    @property
    def description(self) -> str:
        return f"{_fmt(self.lower_bound)} <= x < {_fmt(self.upper_bound)}"

    def _params(self) -> str:
        return f"lower_bound={_fmt(self.lower_bound)}, upper_bound={_fmt(self.upper_bound)}"


class _Simplex(Constraint):
    """Nonnegative vectors summing to 1 (within 1e-6, as torch) along the last dim."""

    event_dim = 1

    def check(self, value: torch.Tensor) -> torch.Tensor:
        return (value >= 0).all(-1) & ((value.sum(-1) - 1).abs() < 1e-6)

    @property
    def description(self) -> str:
        return "a probability vector (entries >= 0 summing to 1) along the last dim"


# ------------------------------------------------------------------- matrices
class _LowerTriangular(Constraint):
    """Matrices with zeros above the diagonal."""

    event_dim = 2

    def check(self, value: torch.Tensor) -> torch.Tensor:
        return (value.tril() == value).flatten(-2).all(-1)

    @property
    def description(self) -> str:
        return "a lower-triangular matrix over the last two dims"


class _LowerCholesky(Constraint):
    """Lower-triangular matrices with a positive diagonal."""

    event_dim = 2

    def check(self, value: torch.Tensor) -> torch.Tensor:
        lower = (value.tril() == value).flatten(-2).all(-1)
        return lower & (value.diagonal(dim1=-2, dim2=-1) > 0).all(-1)

    @property
    def description(self) -> str:
        return "a lower-triangular matrix with positive diagonal over the last two dims"


class _CorrCholesky(Constraint):
    """Cholesky factors of correlation matrices, lower Cholesky with unit-norm rows."""

    event_dim = 2

    def check(self, value: torch.Tensor) -> torch.Tensor:
        # Row norms of a valid factor are 1 up to rounding that grows with the size.
        tol = torch.finfo(value.dtype).eps * value.size(-1) * 10
        row_norm = torch.linalg.vector_norm(value.detach(), dim=-1)
        unit_rows = ((row_norm - 1).abs() <= tol).all(-1)
        return lower_cholesky.check(value) & unit_rows

    @property
    def description(self) -> str:
        return "a lower Cholesky factor with unit-norm rows (of a correlation matrix)"


class _Square(Constraint):
    """Square matrices over the last two dims."""

    event_dim = 2

    def check(self, value: torch.Tensor) -> torch.Tensor:
        is_square = value.size(-2) == value.size(-1)
        return torch.full(value.shape[:-2], is_square, dtype=torch.bool, device=value.device)

    @property
    def description(self) -> str:
        return "a square matrix over the last two dims"


class _Symmetric(_Square):
    """Symmetric matrices (entries equal to their transpose within 1e-6)."""

    def check(self, value: torch.Tensor) -> torch.Tensor:
        if value.size(-2) != value.size(-1):
            return super().check(value)
        return torch.isclose(value, value.mT, atol=1e-6).flatten(-2).all(-1)

    @property
    def description(self) -> str:
        return "a symmetric matrix over the last two dims"


class _PositiveSemidefinite(_Symmetric):
    """Symmetric matrices with nonnegative eigenvalues."""

    def check(self, value: torch.Tensor) -> torch.Tensor:
        symmetric_ok = super().check(value)
        if not symmetric_ok.all():
            return symmetric_ok
        return (torch.linalg.eigvalsh(value) >= 0).all(-1)

    @property
    def description(self) -> str:
        return "a symmetric positive semidefinite matrix over the last two dims"


class _PositiveDefinite(_Symmetric):
    """Symmetric matrices with positive eigenvalues (a Cholesky factor exists)."""

    def check(self, value: torch.Tensor) -> torch.Tensor:
        symmetric_ok = super().check(value)
        if not symmetric_ok.all():
            return symmetric_ok
        return torch.linalg.cholesky_ex(value).info == 0

    @property
    def description(self) -> str:
        return "a symmetric positive definite matrix over the last two dims"


# ------------------------------------------------------------ public instances
dependent = _Dependent()
dependent_property = _DependentProperty
independent = _IndependentConstraint
boolean = _Boolean()
one_hot = _OneHot()
nonnegative_integer = _IntegerGreaterThan(0)
positive_integer = _IntegerGreaterThan(1)
integer_interval = _IntegerInterval
real = _Real()
real_vector = independent(real, 1)
positive = _GreaterThan(0.0)
nonnegative = _GreaterThanEq(0.0)
greater_than = _GreaterThan
greater_than_eq = _GreaterThanEq
less_than = _LessThan
multinomial = _Multinomial
unit_interval = _Interval(0.0, 1.0)
interval = _Interval
half_open_interval = _HalfOpenInterval
simplex = _Simplex()
lower_triangular = _LowerTriangular()
lower_cholesky = _LowerCholesky()
corr_cholesky = _CorrCholesky()
square = _Square()
symmetric = _Symmetric()
positive_semidefinite = _PositiveSemidefinite()
positive_definite = _PositiveDefinite()
cat = _Cat
stack = _Stack
