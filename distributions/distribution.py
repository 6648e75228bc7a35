"""The ``Distribution`` base class: shapes, validation, and the shared API.

Shapes follow the TensorFlow Distributions design (Dillon et al. 2017,
arXiv 1711.10604): a draw has shape ``sample_shape + batch_shape + event_shape``
and ``log_prob`` reduces the event dims, returning ``sample_shape + batch_shape``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch

from distributions.validation import check_arguments, check_sample

__all__ = ["Distribution", "register_wrapper"]

ShapeLike = torch.Size | Sequence[int]
_Wrapper = TypeVar("_Wrapper", bound=type)

# The wrappers behind ``expand`` (the generic fallback), ``to_event`` and ``mask``
# subclass Distribution, so this module cannot import them. Each registers itself
# here when its module is imported, and ``distributions/__init__`` imports all three,
# so any import of ``distributions`` (or of one of its modules) fills the table.
_WRAPPERS: dict[str, type] = {}


def register_wrapper(role: str) -> Callable[[_Wrapper], _Wrapper]:
    """Class decorator naming the wrapper that ``Distribution.<role>`` returns.

    Args:
        role: ``"expand"``, ``"to_event"`` or ``"mask"``.

    Example:
        >>> from distributions import Independent
        >>> _WRAPPERS["to_event"] is Independent
        True
    """

    def decorate(cls: _Wrapper) -> _Wrapper:
        _WRAPPERS[role] = cls
        return cls

    return decorate


def _wrapper(role: str) -> Any:
    try:
        return _WRAPPERS[role]
    except KeyError:
        raise RuntimeError(
            f"Distribution.{role}: no wrapper class is registered; import the "
            "`distributions` package (its __init__ registers them)"
        ) from None


def _warn_undeclared(cls: type[Distribution]) -> None:
    """Warns (as torch does) when a subclass validates without declaring what to check.

    Called only when one of two identity tests against the base class's own
    attributes fails, so the cost on the construction path is nil for every
    family that declares both.
    """
    if cls.arg_constraints is Distribution.arg_constraints:
        warnings.warn(
            f"{cls.__name__} does not define `arg_constraints`, so its parameters go "
            "unchecked; set `arg_constraints = {}` (or a dict of constraints) on the class, "
            "or pass validate_args=False",
            UserWarning,
            stacklevel=4,
        )
    if cls.support is None:
        warnings.warn(
            f"{cls.__name__} does not define `support`, so log_prob cannot check its values; "
            "set `support` on the class (e.g. constraints.real), or pass validate_args=False",
            UserWarning,
            stacklevel=4,
        )


class Distribution:
    """Base class of every distribution, API-compatible with ``torch.distributions``.

    Subclasses set ``arg_constraints`` and ``support`` and implement ``log_prob``
    and ``sample`` or ``rsample``; the base class supplies shapes, validation,
    ``expand`` helpers and the modelling conveniences ``to_event``,
    ``expand_by`` and ``mask``.

    Args:
        batch_shape: shape over which parameters are batched.
        event_shape: shape of a single draw.
        validate_args: validate parameters and ``log_prob`` inputs; ``None``
            follows :meth:`set_default_validate_args` (on unless turned off).

    Example:
        >>> from distributions import Normal
        >>> d = Normal(torch.zeros(3), 1.0)
        >>> d.batch_shape, d.event_shape
        (torch.Size([3]), torch.Size([]))
    """

    has_rsample = False
    has_enumerate_support = False
    _validate_args = True
    arg_constraints: dict[str, Any] = {}
    support: Any = None

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turns validation on or off for every instance created without ``validate_args``.

        Example:
            >>> Distribution.set_default_validate_args(True)
        """
        if value not in (True, False):
            raise ValueError(f"set_default_validate_args expects True or False, got {value!r}")
        Distribution._validate_args = value

    def __init__(
        self,
        batch_shape: ShapeLike = torch.Size(),
        event_shape: ShapeLike = torch.Size(),
        validate_args: bool | None = None,
    ) -> None:
        # Families pass torch.Size already (a parameter's .shape): no copy then.
        self._batch_shape = (
            batch_shape if type(batch_shape) is torch.Size else torch.Size(batch_shape)
        )
        self._event_shape = (
            event_shape if type(event_shape) is torch.Size else torch.Size(event_shape)
        )
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            cls = type(self)
            if cls.arg_constraints is Distribution.arg_constraints or cls.support is None:
                _warn_undeclared(cls)
            if self.arg_constraints:  # wrappers such as Independent have none
                check_arguments(self)

    # ----------------------------------------------------------------- shapes
    @property
    def batch_shape(self) -> torch.Size:
        """The shape over which parameters are batched."""
        return self._batch_shape

    @property
    def event_shape(self) -> torch.Size:
        """The shape of a single draw."""
        return self._event_shape

    def _extended_shape(self, sample_shape: ShapeLike = torch.Size()) -> torch.Size:
        if not isinstance(sample_shape, torch.Size):
            sample_shape = torch.Size(sample_shape)
        return sample_shape + self._batch_shape + self._event_shape

    def expand(self, batch_shape: ShapeLike, _instance: Any = None) -> Distribution:
        """Returns a new distribution with parameters expanded to ``batch_shape``.

        Subclasses override this to expand their parameters without copies.
        The generic fallback wraps ``self`` in an expanded view.
        """
        return _wrapper("expand")(self, batch_shape)

    def _expand_params(
        self, cls: type, batch_shape: ShapeLike, _instance: Any, names: Sequence[str]
    ) -> Any:
        """``expand`` for families whose parameters all have the batch shape.

        Copies the named tensors (those set on ``self``) expanded to
        ``batch_shape`` onto a new instance without copying memory or
        re-validating, and keeps the validation setting.
        """
        new = self._get_checked_instance(cls, _instance)
        batch_shape = torch.Size(batch_shape)
        for name in names:
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(batch_shape))
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _get_checked_instance(self, cls: type, _instance: Any) -> Any:
        # Comparing the classes' own __init__ is the point here, not a call through it.
        if _instance is None and type(self).__init__ != cls.__init__:  # type: ignore[misc]
            raise NotImplementedError(
                f"{type(self).__name__}.expand: the subclass has its own __init__, so it "
                "must implement expand() itself"
            )
        return self.__new__(type(self)) if _instance is None else _instance

    # ------------------------------------------------------------ statistics
    @property
    def mean(self) -> torch.Tensor:
        """Mean of the distribution."""
        raise NotImplementedError(f"{type(self).__name__} has no closed-form mean")

    @property
    def mode(self) -> torch.Tensor:
        """Mode of the distribution."""
        raise NotImplementedError(f"{type(self).__name__} has no closed-form mode")

    @property
    def variance(self) -> torch.Tensor:
        """Variance of the distribution."""
        raise NotImplementedError(f"{type(self).__name__} has no closed-form variance")

    @property
    def stddev(self) -> torch.Tensor:
        """Standard deviation, the square root of :attr:`variance`."""
        return self.variance.sqrt()

    def entropy(self) -> torch.Tensor:
        """Differential or Shannon entropy, batched over ``batch_shape``."""
        raise NotImplementedError(f"{type(self).__name__} has no closed-form entropy")

    def perplexity(self) -> torch.Tensor:
        """``exp(entropy)``."""
        return torch.exp(self.entropy())

    # ---------------------------------------------------------- sample / score
    def sample(self, sample_shape: ShapeLike = torch.Size()) -> torch.Tensor:
        """Draws a sample without gradients, shaped ``sample_shape + batch + event``."""
        with torch.no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape: ShapeLike = torch.Size()) -> torch.Tensor:
        """Draws a reparameterized sample, differentiable in the parameters."""
        raise NotImplementedError(
            f"{type(self).__name__} has no reparameterized sampler (has_rsample=False); "
            "use .sample() with a score-function estimator"
        )

    def sample_n(self, n: int) -> torch.Tensor:
        """Draws ``n`` samples (the old torch API); same as ``sample((n,))``."""
        return self.sample(torch.Size((n,)))

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """Log density or mass of ``value``, shaped ``sample + batch``."""
        raise NotImplementedError(f"{type(self).__name__} does not define log_prob")

    def cdf(self, value: torch.Tensor) -> torch.Tensor:
        """Cumulative distribution function at ``value``."""
        raise NotImplementedError(f"{type(self).__name__} has no closed-form cdf")

    def icdf(self, value: torch.Tensor) -> torch.Tensor:
        """Inverse cumulative distribution function at probability ``value``."""
        raise NotImplementedError(f"{type(self).__name__} has no closed-form icdf")

    def enumerate_support(self, expand: bool = True) -> torch.Tensor:
        """All values of a discrete support, stacked along a new leftmost dim."""
        raise NotImplementedError(
            f"{type(self).__name__} has no finite support to enumerate "
            "(has_enumerate_support=False)"
        )

    def _validate_sample(self, value: torch.Tensor) -> None:
        check_sample(self, value)

    # ------------------------------------------------------ PPL conveniences
    def to_event(self, reinterpreted_batch_ndims: int | None = None) -> Distribution:
        """Moves the rightmost batch dims into the event: returns ``Independent``.

        Args:
            reinterpreted_batch_ndims: how many batch dims to move; all of them
                when ``None``.

        Example:
            >>> from distributions import Normal
            >>> Normal(torch.zeros(2, 3), 1.0).to_event(1).event_shape
            torch.Size([3])
        """
        if reinterpreted_batch_ndims is None:
            reinterpreted_batch_ndims = len(self.batch_shape)
        if reinterpreted_batch_ndims == 0:
            return self
        return _wrapper("to_event")(self, reinterpreted_batch_ndims)

    def expand_by(self, sample_shape: ShapeLike) -> Distribution:
        """Prepends ``sample_shape`` to the batch shape (an ``expand`` on the left).

        Example:
            >>> from distributions import Normal
            >>> Normal(0.0, 1.0).expand_by([4]).batch_shape
            torch.Size([4])
        """
        return self.expand(torch.Size(sample_shape) + self.batch_shape)

    def mask(self, mask: torch.Tensor | bool) -> Distribution:
        """Masks ``log_prob`` with a boolean tensor broadcastable to the batch shape.

        Masked-out elements score zero, and no gradient flows through them.
        ``mask=False`` masks everything, ``True`` nothing.

        Example:
            >>> from distributions import Normal
            >>> Normal(torch.zeros(2), 1.0).mask(torch.tensor([True, False])).log_prob(
            ...     torch.zeros(2))[1].item()
            0.0
        """
        return _wrapper("mask")(self, mask)

    def __repr__(self) -> str:
        names = [k for k in self.arg_constraints if k in self.__dict__]
        args = ", ".join(f"{k}: {_short(self.__dict__[k])}" for k in names)
        return f"{type(self).__name__}({args})"


def _short(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else f"tensor of shape {tuple(value.shape)}"
    return value
