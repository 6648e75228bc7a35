"""``Param`` and ``Sample``: the attribute values that make a module attribute a site.

Assigned to an attribute of a :class:`ppl.nn.Module`, a :class:`Param` makes
that attribute a learnable, constrained parameter in the parameter store and
a :class:`Sample` makes it a random variable drawn from a prior, once per
module call. They are plain records; :mod:`ppl.nn.module` gives them their
meaning (Pyro calls them ``PyroParam`` and ``PyroSample``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from distributions import constraints

__all__ = ["Param", "Sample", "is_distribution"]


def is_distribution(obj: Any) -> bool:
    """Whether ``obj`` behaves like a distribution (it can sample and score).

    Example:
        >>> from distributions import Normal
        >>> is_distribution(Normal(0.0, 1.0)), is_distribution(lambda self: None)
        (True, False)
    """
    return callable(getattr(obj, "log_prob", None)) and callable(getattr(obj, "sample", None))


class Param:
    """A learnable module attribute, stored in the parameter store under its dotted name.

    Reading the attribute inside a module call is ``ppl.param(full_name,
    init_value, constraint=constraint, event_dim=event_dim)``: the value is
    created from ``init_value`` on first use and from then on read from the
    store (``ppl.clear_param_store()`` starts it afresh), so every handler and
    SVI see it as an ordinary param site.

    Args:
        init_value: the initial constrained value: a tensor, a number, or a
            function of no arguments returning one.
        constraint: the set the value lives in (``constraints.real`` by default).
        event_dim: how many rightmost dims are not plate dims (for subsampling).

    Raises:
        TypeError: when ``init_value`` is missing or neither a tensor, a
            number nor a function.

    Example:
        >>> import torch, ppl
        >>> from distributions import constraints
        >>> class Scale(ppl.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.s = ppl.nn.Param(torch.tensor(2.0), constraint=constraints.positive)
        >>> Scale().s.item(), ppl.get_param_store().get_constraint("s") is constraints.positive
        (2.0, True)
    """

    __slots__ = ("init_value", "constraint", "event_dim")

    def __init__(
        self,
        init_value: torch.Tensor | float | Callable[[], torch.Tensor],
        constraint: Any = constraints.real,
        event_dim: int | None = None,
    ) -> None:
        if not (isinstance(init_value, (torch.Tensor, int, float)) or callable(init_value)):
            raise TypeError(
                f"Param: init_value must be a tensor, a number or a function returning one, "
                f"got {type(init_value).__name__}"
            )
        self.init_value = init_value
        self.constraint = constraint
        self.event_dim = event_dim

    def __repr__(self) -> str:
        return f"Param(constraint={self.constraint}, event_dim={self.event_dim})"


class Sample:
    """A random module attribute: a sample site drawn from ``prior`` once per module call.

    ``prior`` is a distribution, or a function of the module returning one
    (Pyro's ``PyroSample(lambda self: ...)``), so a prior may depend on other
    attributes of the module, themselves params or sample sites. Inside one
    call of the module (its ``forward`` and everything it calls) the
    attribute keeps the value drawn first; the next call draws again.

    Args:
        prior: a distribution, or ``prior(module) -> distribution``.

    Raises:
        TypeError: when ``prior`` is neither a distribution nor callable.

    Example:
        >>> import ppl
        >>> from distributions import Normal
        >>> class Noise(ppl.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.loc = ppl.nn.Sample(Normal(0.0, 1.0))
        ...         self.x = ppl.nn.Sample(lambda self: Normal(self.loc, 0.1))
        ...     def forward(self):
        ...         return self.x - self.loc
        >>> tr = ppl.handlers.trace(Noise()).get_trace()
        >>> tr.stochastic_nodes
        ['loc', 'x']
    """

    __slots__ = ("prior",)

    def __init__(self, prior: Any) -> None:
        if not (is_distribution(prior) or callable(prior)):
            raise TypeError(
                f"Sample: prior must be a distribution or a function of the module returning "
                f"one (lambda self: Normal(self.loc, 1.0)), got {type(prior).__name__}"
            )
        self.prior = prior

    def distribution(self, module: torch.nn.Module, full_name: str) -> Any:
        """The prior for ``module``: ``prior`` itself, or ``prior(module)`` checked.

        Raises:
            TypeError: when a callable prior returns something other than a
                distribution.
        """
        if is_distribution(self.prior):
            return self.prior
        fn = self.prior(module)
        if not is_distribution(fn):
            raise TypeError(
                f"Sample site '{full_name}': the prior function returned "
                f"{type(fn).__name__}, expected a distribution; return e.g. "
                f"Normal(self.loc, 1.0) from it"
            )
        return fn

    def __repr__(self) -> str:
        return f"Sample({self.prior!r})"
