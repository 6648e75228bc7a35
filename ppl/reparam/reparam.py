"""``Reparam``: the base of reparameterizers, used by :class:`ppl.handlers.reparam`.

A reparameterizer rewrites one sample site into auxiliary sample sites and a
differentiable function of them, without changing the model's joint
distribution: the geometry changes, the posterior does not (Gorinova, Moore
and Hoffman 2020, "Automatic Reparameterisation of Probabilistic Programs",
ICML, arXiv 1906.03028). It sees the site as a small dict and returns the
new ``fn``, ``value`` and ``is_observed`` of the site, Pyro's contract, so a
reparameterizer written for Pyro's ``apply(msg)`` ports unchanged.
"""

from __future__ import annotations

import abc

import torch

from distributions import Delta, Distribution, Independent

__all__ = ["Reparam", "as_deterministic", "unwrap", "wrap"]


def unwrap(fn: Distribution) -> tuple[Distribution, int]:
    """Peels ``Independent`` wrappers off ``fn``; returns ``(inner, event_dim of fn)``.

    Example:
        >>> import torch
        >>> from distributions import Normal
        >>> inner, event_dim = unwrap(Normal(torch.zeros(3), 1.0).to_event(1))
        >>> type(inner).__name__, event_dim
        ('Normal', 1)
    """
    event_dim = len(fn.event_shape)
    while isinstance(fn, Independent):
        fn = fn.base_dist
    return fn, event_dim


def wrap(fn: Distribution, event_dim: int) -> Distribution:
    """Moves batch dims of ``fn`` into its event until it has ``event_dim`` event dims.

    Example:
        >>> import torch
        >>> from distributions import Normal
        >>> wrap(Normal(torch.zeros(2, 3), 1.0), 1).event_shape
        torch.Size([3])
    """
    missing = event_dim - len(fn.event_shape)
    return fn.to_event(missing) if missing > 0 else fn


def as_deterministic(value: torch.Tensor, event_dim: int) -> dict:
    """The new site of a reparameterized variable: ``value`` recorded, never scored.

    Like :func:`ppl.deterministic`: an observed point mass, fully masked (its
    auxiliary sites carry the log density).

    Example:
        >>> import torch
        >>> site = as_deterministic(torch.ones(2), 1)
        >>> site["is_observed"], site["deterministic"], site["fn"].event_shape
        (True, True, torch.Size([2]))
    """
    return {
        "fn": Delta(value, event_dim=event_dim, validate_args=False),
        "value": value,
        "is_observed": True,
        "deterministic": True,
    }


class Reparam(abc.ABC):
    """Base class of reparameterizers.

    Subclasses implement :meth:`apply`. Inside it, auxiliary sites are drawn
    with ordinary ``ppl.sample`` calls (named after the site, e.g.
    ``"{name}_decentered"``); they pass through every handler, so traces,
    guides and ``Predictive`` see them like the model's own sites.
    """

    @abc.abstractmethod
    def apply(self, msg: dict) -> dict:
        """Reparameterizes one site.

        Args:
            msg: a dict with the site's ``"name"``, ``"fn"``, ``"value"``
                (``None`` unless observed) and ``"is_observed"``.

        Returns:
            A dict with the site's new ``"fn"``, ``"value"`` and
            ``"is_observed"``, and ``"deterministic": True`` when the site
            becomes a recorded function of the auxiliary sites (see
            :func:`as_deterministic`).
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
