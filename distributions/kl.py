"""``kl_divergence`` and ``register_kl``: a registry of closed-form KL divergences.

``kl_divergence(p, q)`` looks up the implementation registered for the most
specific pair of classes ``(P, Q)`` with ``isinstance(p, P)`` and
``isinstance(q, Q)``, by method resolution order. The lookup is memoized in a
plain dict keyed by the concrete type pair, so after the first call it is one
dict access — which also keeps it traceable by ``torch.compile(fullgraph=True)``.
"""

import warnings

from distributions.distribution import Distribution

__all__ = ["register_kl", "kl_divergence", "AmbiguousKLWarning"]

_REGISTRY = {}
_MEMO = {}


class AmbiguousKLWarning(UserWarning):
    """Two registered pairs match equally well; the first in (p, q) order is used."""


def register_kl(type_p, type_q):
    """Decorator registering ``fn(p, q)`` as ``KL(p || q)`` for a pair of classes.

    Args:
        type_p: a :class:`Distribution` subclass for the first argument.
        type_q: a :class:`Distribution` subclass for the second argument.

    Raises:
        TypeError: when either is not a Distribution subclass.

    Example:
        >>> from distributions import Normal
        >>> class MyNormal(Normal):
        ...     pass
        >>> @register_kl(MyNormal, MyNormal)
        ... def _kl_mine(p, q):
        ...     return (p.loc - q.loc) ** 2
        >>> kl_divergence(MyNormal(1.0, 1.0), MyNormal(0.0, 1.0)).item()
        1.0
    """
    for name, t in (("type_p", type_p), ("type_q", type_q)):
        if not (isinstance(t, type) and issubclass(t, Distribution)):
            raise TypeError(f"register_kl: {name} must be a Distribution subclass, got {t!r}")

    def decorator(fn):
        _REGISTRY[type_p, type_q] = fn
        _MEMO.clear()
        return fn

    return decorator


def _rank(cls, target):
    return cls.__mro__.index(target)


def _resolve(type_p, type_q):
    matches = [(p, q) for (p, q) in _REGISTRY if issubclass(type_p, p) and issubclass(type_q, q)]
    if not matches:
        return None
    by_p = min(matches, key=lambda m: (_rank(type_p, m[0]), _rank(type_q, m[1])))
    by_q = min(matches, key=lambda m: (_rank(type_q, m[1]), _rank(type_p, m[0])))
    if by_p != by_q:
        warnings.warn(
            f"kl_divergence({type_p.__name__}, {type_q.__name__}) is ambiguous between "
            f"({by_p[0].__name__}, {by_p[1].__name__}) and ({by_q[0].__name__}, "
            f"{by_q[1].__name__}); using the first. Register the exact pair to decide.",
            AmbiguousKLWarning,
            stacklevel=3,
        )
    return _REGISTRY[by_p]


def kl_divergence(p, q):
    """``KL(p || q)``, batched over the broadcast of both batch shapes.

    Raises:
        NotImplementedError: when no pair is registered, naming both classes and
            showing how to register one.

    Example:
        >>> from distributions import Normal
        >>> kl_divergence(Normal(0.0, 1.0), Normal(0.0, 1.0)).item()
        0.0
    """
    key = (type(p), type(q))
    fn = _MEMO.get(key)
    if fn is None:
        fn = _resolve(*key)
        if fn is None:
            raise NotImplementedError(
                f"No KL divergence is registered for ({key[0].__name__}, {key[1].__name__}). "
                f"Register one with @distributions.register_kl({key[0].__name__}, "
                f"{key[1].__name__}) on a function (p, q) -> tensor, or estimate it by "
                "Monte Carlo: (p.log_prob(x) - q.log_prob(x)).mean(0) for x = p.sample((n,))."
            )
        _MEMO[key] = fn
    return fn(p, q)
