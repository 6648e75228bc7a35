"""Registries from constraints to transforms: ``biject_to`` and ``transform_to``.

``biject_to(c)`` returns a bijection from unconstrained space onto ``c``:
use it where densities are transformed (e.g. HMC, or a guide's
``TransformedDistribution``), since its log-det is defined.
``transform_to(c)`` returns any transform whose image lies in ``c``; it need
not be injective, which suits optimising a parameter constrained to ``c``.

Both dispatch on the constraint's class (the nearest registered class in its
MRO), and are extensible with ``register``. They accept torch.distributions'
constraint objects too, mapped to ours by
:func:`~distributions.torch_constraints.as_constraint`.

Example:
    >>> import torch
    >>> from distributions import constraints
    >>> t = biject_to(constraints.interval(0.0, 2.0))
    >>> t(torch.tensor(0.0))
    tensor(1.)
"""

import math
from numbers import Number

from distributions import constraints
from distributions.torch_constraints import (
    TorchConstraint,
    as_constraint,
    is_torch_constraint,
    is_torch_constraint_class,
    our_constraint_class,
)
from distributions.transforms import (
    AffineTransform,
    CatTransform,
    ComposeTransform,
    CorrCholeskyTransform,
    ExpTransform,
    IndependentTransform,
    LowerCholeskyTransform,
    PositiveDefiniteTransform,
    SigmoidTransform,
    SoftmaxTransform,
    StackTransform,
    StickBreakingTransform,
    identity_transform,
)

__all__ = ["ConstraintRegistry", "biject_to", "transform_to"]


class ConstraintRegistry:
    """Maps constraint classes to factories ``factory(constraint) -> Transform``.

    Args:
        name: how error messages refer to the registry (e.g. ``"biject_to"``).

    Example:
        >>> registry = ConstraintRegistry("my_registry")
        >>> @registry.register(constraints.positive)
        ... def _(constraint):
        ...     return ExpTransform()
        >>> registry(constraints.greater_than(0.0))
        ExpTransform()
    """

    def __init__(self, name="ConstraintRegistry"):
        self.name = name
        self._registry = {}

    def register(self, constraint, factory=None):
        """Registers ``factory`` for a constraint class; usable as a decorator.

        Args:
            constraint: a subclass of :class:`~distributions.constraints.Constraint`,
                or a singleton instance, which stands for its class (so
                ``register(constraints.positive, f)`` covers every ``greater_than``);
                or a user's subclass of torch's ``Constraint`` (or an instance).
            factory: a callable taking a constraint of that class and returning a
                transform; when omitted, ``register`` returns a decorator.

        Returns:
            ``factory`` (or the decorator).

        Raises:
            TypeError: when ``constraint`` is neither a Constraint class nor instance.
        """
        if factory is None:
            return lambda factory: self.register(constraint, factory)
        if isinstance(constraint, constraints.Constraint) or is_torch_constraint(constraint):
            constraint = type(constraint)
        if isinstance(constraint, type):
            # torch's built-in classes are looked up as ours: register there.
            constraint = our_constraint_class(constraint)
        if not (isinstance(constraint, type) and _is_constraint_class(constraint)):
            raise TypeError(
                f"{self.name}.register: expected a Constraint subclass or instance, got "
                f"{constraint!r}"
            )
        self._registry[constraint] = factory
        return factory

    def __call__(self, constraint):
        """Looks up the factory for ``constraint``'s class and applies it.

        Raises:
            NotImplementedError: when nothing is registered for the class, naming
                the constraint and showing how to register a transform for it.
            TypeError: when ``constraint`` is not a constraint object.
        """
        constraint = as_constraint(constraint, name=self.name)
        # A user's torch constraint dispatches on its own class, not the wrapper's.
        owner = constraint.constraint if type(constraint) is TorchConstraint else constraint
        for cls in type(owner).__mro__:
            factory = self._registry.get(cls)
            if factory is not None:
                return factory(owner)
        name = type(owner).__name__
        raise NotImplementedError(
            f"{self.name}: no transform is registered for the constraint {constraint!r} "
            f"(class {name}). Register one with\n"
            f"    @{self.name}.register(type(constraint))\n"
            f"    def _(constraint):\n"
            f"        return MyTransform(...)  # maps real inputs into the constraint"
        )


def _is_constraint_class(cls):
    return issubclass(cls, constraints.Constraint) or is_torch_constraint_class(cls)


biject_to = ConstraintRegistry("biject_to")
transform_to = ConstraintRegistry("transform_to")


def _register_both(constraint):
    """Registers the decorated factory in both registries."""

    def decorator(factory):
        biject_to.register(constraint, factory)
        transform_to.register(constraint, factory)
        return factory

    return decorator


def _is_number(value, target):
    return isinstance(value, Number) and value == target


def _infinite(bound, sign):
    """True if every element of ``bound`` is ``sign * inf``; raises if only some are."""
    target = sign * math.inf
    if isinstance(bound, Number):
        return bound == target
    hits = bound == target
    if bool(hits.all()):
        return True
    if bool(hits.any()):
        raise ValueError(
            f"biject_to/transform_to: an interval bound is {target} for some elements "
            f"only ({tuple(bound.shape)} tensor); split the batch so each part has finite or "
            "infinite bounds throughout"
        )
    return False


@_register_both(constraints.real)
def _to_real(constraint):
    return identity_transform


@biject_to.register(constraints.independent)
def _biject_to_independent(constraint):
    base = biject_to(constraint.base_constraint)
    return IndependentTransform(base, constraint.reinterpreted_batch_ndims)


@transform_to.register(constraints.independent)
def _transform_to_independent(constraint):
    base = transform_to(constraint.base_constraint)
    return IndependentTransform(base, constraint.reinterpreted_batch_ndims)


@biject_to.register(constraints.MixtureSameFamilyConstraint)
def _biject_to_mixture(constraint):
    return biject_to(constraint.base_constraint)


@transform_to.register(constraints.MixtureSameFamilyConstraint)
def _transform_to_mixture(constraint):
    return transform_to(constraint.base_constraint)


@_register_both(constraints.greater_than)
@_register_both(constraints.greater_than_eq)
def _to_greater_than(constraint):
    if _is_number(constraint.lower_bound, 0):
        return ExpTransform()
    return ComposeTransform([ExpTransform(), AffineTransform(constraint.lower_bound, 1)])


@_register_both(constraints.less_than)
def _to_less_than(constraint):
    return ComposeTransform([ExpTransform(), AffineTransform(constraint.upper_bound, -1)])


@_register_both(constraints.interval)
@_register_both(constraints.half_open_interval)
def _to_interval(constraint):
    lower, upper = constraint.lower_bound, constraint.upper_bound
    # An interval with an infinite end (GeneralizedPareto's support for
    # concentration >= 0) is a half line: a sigmoid scaled by inf would send
    # every finite point to inf or NaN.
    below, above = _infinite(lower, -1), _infinite(upper, 1)
    if below or above:
        if below and above:
            return identity_transform
        if above:
            return _to_greater_than(constraints.greater_than(lower))
        return _to_less_than(constraints.less_than(upper))
    if _is_number(lower, 0) and _is_number(upper, 1):
        return SigmoidTransform()
    return ComposeTransform([SigmoidTransform(), AffineTransform(lower, upper - lower)])


@biject_to.register(constraints.simplex)
def _biject_to_simplex(constraint):
    return StickBreakingTransform()


@transform_to.register(constraints.simplex)
def _transform_to_simplex(constraint):
    return SoftmaxTransform()


@transform_to.register(constraints.lower_cholesky)
def _transform_to_lower_cholesky(constraint):
    return LowerCholeskyTransform()


@transform_to.register(constraints.positive_definite)
@transform_to.register(constraints.positive_semidefinite)
def _transform_to_positive_definite(constraint):
    return PositiveDefiniteTransform()


@_register_both(constraints.corr_cholesky)
def _to_corr_cholesky(constraint):
    return CorrCholeskyTransform()


@biject_to.register(constraints.cat)
def _biject_to_cat(constraint):
    parts = [biject_to(c) for c in constraint.cseq]
    return CatTransform(parts, constraint.dim, constraint.lengths)


@transform_to.register(constraints.cat)
def _transform_to_cat(constraint):
    parts = [transform_to(c) for c in constraint.cseq]
    return CatTransform(parts, constraint.dim, constraint.lengths)


@biject_to.register(constraints.stack)
def _biject_to_stack(constraint):
    return StackTransform([biject_to(c) for c in constraint.cseq], constraint.dim)


@transform_to.register(constraints.stack)
def _transform_to_stack(constraint):
    return StackTransform([transform_to(c) for c in constraint.cseq], constraint.dim)
