"""Accepting torch.distributions' constraint objects wherever ours are taken.

Most Pyro code takes its constraints from torch's ``constraints`` module and passes
those objects to ``param(..., constraint=...)``, ``biject_to`` and friends.
:func:`as_constraint` maps each of them to the equal constraint of
:mod:`distributions.constraints`, so our registries, checks and messages see
one kind of object.

torch's constraint module is not imported here (the packages keep torch's
distributions as a test oracle only). Its objects are recognised by the module
their class is defined in, and our constraint classes carry the same private
names (``_GreaterThan``, ``_Interval`` ...), so the registry below is built by
introspecting our module: one converter per class name, reading the torch
object's attributes that our constructor takes. A class torch adds later and
we lack is refused with a message naming it and how to register a converter
(the test suite walks every public name of torch's module to catch it early).
Constraints a user derives from torch's ``Constraint`` base class are wrapped
so their own ``check`` runs.

Example:
    >>> import torch
    >>> from distributions import constraints
    >>> as_constraint(constraints.positive) is constraints.positive
    True
"""

import inspect
import weakref

from distributions import constraints

__all__ = [
    "TorchConstraint",
    "as_constraint",
    "is_torch_constraint",
    "is_torch_constraint_class",
    "our_constraint_class",
    "register_torch_constraint",
]

_TORCH_MODULE = "torch.distributions.constraints"

# torch class name -> converter(torch constraint) -> our Constraint.
_CONVERTERS = {}

# Converted objects, so a parameter read on every step maps its constraint once.
_CACHE = weakref.WeakKeyDictionary()


def register_torch_constraint(class_name, converter=None):
    """Registers how a torch constraint class (by its name) maps to ours.

    Args:
        class_name: the class's ``__name__`` in ``torch.distributions.constraints``.
        converter: ``converter(torch_constraint) -> Constraint``; when omitted,
            returns a decorator.

    Returns:
        ``converter`` (or the decorator).

    Example:
        >>> _ = register_torch_constraint("_Simplex", lambda c: constraints.simplex)
    """
    if converter is None:
        return lambda converter: register_torch_constraint(class_name, converter)
    _CONVERTERS[class_name] = converter
    return converter


def is_torch_constraint(obj):
    """Whether ``obj`` is a constraint object of torch.distributions (or derived from one).

    Example:
        >>> is_torch_constraint(constraints.real)
        False
    """
    return is_torch_constraint_class(type(obj))


def is_torch_constraint_class(cls):
    """Whether the class ``cls`` derives from torch.distributions' ``Constraint``.

    Example:
        >>> is_torch_constraint_class(type(constraints.real))
        False
    """
    return any(c.__module__ == _TORCH_MODULE and c.__name__ == "Constraint" for c in cls.__mro__)


def our_constraint_class(cls):
    """Our class equal to torch's built-in constraint class ``cls`` (``cls`` itself otherwise).

    Lets ``biject_to.register(torch_constraints.positive, ...)`` register for
    the class torch's ``positive`` is looked up as.

    Example:
        >>> import torch
        >>> our_constraint_class(type(torch.distributions.constraints.positive)).__module__
        'distributions.constraints'
    """
    if cls.__module__ == _TORCH_MODULE:
        ours = getattr(constraints, cls.__name__, None)
        if isinstance(ours, type) and issubclass(ours, constraints.Constraint):
            return ours
    return cls


def as_constraint(obj, *, name="constraint"):
    """Returns ``obj`` as a constraint of :mod:`distributions.constraints`.

    Our constraints are returned as they are; torch's are mapped to the equal
    constraint of ours (nested ones too: ``independent``, ``cat``, ``stack``).

    Args:
        obj: a constraint object, ours or torch's.
        name: how the error message refers to the argument.

    Returns:
        A :class:`~distributions.constraints.Constraint`.

    Raises:
        TypeError: when ``obj`` is not a constraint, or is a torch constraint
            class with no converter, naming it and the fix.

    Example:
        >>> import torch
        >>> tc = torch.distributions.constraints
        >>> as_constraint(tc.interval(0.0, 2.0))
        Interval(lower_bound=0.0, upper_bound=2.0)
    """
    if isinstance(obj, constraints.Constraint):
        return obj
    try:
        cached = _CACHE.get(obj)
    except TypeError:  # not weak-referenceable or unhashable: not a constraint object
        cached = None
    if cached is not None:
        return cached
    result = _convert(obj, name)
    try:
        _CACHE[obj] = result
    except TypeError:
        pass  # cannot be cached; converting again is correct, only slower
    return result


def _convert(obj, name):
    cls = type(obj)
    if cls.__module__ == _TORCH_MODULE:
        converter = _CONVERTERS.get(cls.__name__)
        if converter is None:
            raise TypeError(
                f"{name}: torch.distributions.constraints.{cls.__name__} has no equivalent "
                f"here yet; register one with\n"
                f"    @register_torch_constraint({cls.__name__!r})\n"
                f"    def _(c):\n"
                f"        return MyConstraint(...)  # a distributions.constraints.Constraint"
            )
        return converter(obj)
    if is_torch_constraint(obj):
        return TorchConstraint(obj)
    if isinstance(obj, type) and issubclass(obj, constraints.Constraint):
        raise TypeError(
            f"{name}: got the constraint class {obj.__name__}, not an instance; call it with "
            f"its arguments, e.g. constraints.greater_than(0.0)"
        )
    raise TypeError(
        f"{name}: expected a constraint (e.g. constraints.positive from distributions or "
        f"torch.distributions), got {type(obj).__name__}"
    )


class TorchConstraint(constraints.Constraint):
    """A user's subclass of torch's ``Constraint``, wrapped so its own ``check`` runs.

    No transform is registered for it: ``biject_to``/``transform_to`` raise
    and say how to register one for the wrapped class.

    Args:
        constraint: the torch constraint object.

    Example:
        >>> import torch
        >>> class Even(torch.distributions.constraints.Constraint):
        ...     is_discrete = True
        ...     def check(self, value):
        ...         return value % 2 == 0
        >>> as_constraint(Even()).check(torch.tensor([2, 3]))
        tensor([ True, False])
    """

    def __init__(self, constraint):
        self.constraint = constraint

    @property
    def is_discrete(self):
        return self.constraint.is_discrete

    @property
    def event_dim(self):
        return self.constraint.event_dim

    def check(self, value):
        return self.constraint.check(value)

    def __repr__(self):
        return repr(self.constraint)


# --------------------------------------------------------- converter registry
def _convert_attr(value):
    if isinstance(value, (list, tuple)):
        return type(value)(_convert_attr(v) for v in value)
    if is_torch_constraint(value):
        return as_constraint(value)
    return value


def _read_attr(obj, attr):
    # torch keeps some constructor arguments under a leading underscore
    # (``_Dependent._event_dim``); read the instance dict only, never a property
    # that may raise.
    state = vars(obj)
    for key in (attr, f"_{attr}"):
        if key in state:
            return _convert_attr(state[key])
    raise TypeError(
        f"constraint: torch's {type(obj).__name__} has no attribute {attr!r} to convert; "
        f"register a converter with register_torch_constraint({type(obj).__name__!r})"
    )


def _singleton_of(cls):
    for value in vars(constraints).values():
        if type(value) is cls:
            return value
    return None


def _by_constructor(cls):
    """A converter calling ``cls`` with the torch object's attributes of the same names."""
    params = [
        p
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if not params:
        instance = _singleton_of(cls)
        return (lambda c: instance) if instance is not None else (lambda c: cls())
    positional = [p.name for p in params if p.kind != p.KEYWORD_ONLY]
    keyword = [p.name for p in params if p.kind == p.KEYWORD_ONLY]

    def convert(c):
        args = [_read_attr(c, attr) for attr in positional]
        kwargs = {attr: _read_attr(c, attr) for attr in keyword}
        return cls(*args, **kwargs)

    return convert


def _build_registry():
    for cls_name, cls in vars(constraints).items():
        concrete = cls_name != "Constraint"  # the abstract base has no set to map to
        if concrete and isinstance(cls, type) and issubclass(cls, constraints.Constraint):
            _CONVERTERS.setdefault(cls_name, _by_constructor(cls))
    # torch's dependent_property objects read as dependent placeholders on the class.
    dependent = _by_constructor(type(constraints.dependent))
    _CONVERTERS["_DependentProperty"] = dependent


_build_registry()
