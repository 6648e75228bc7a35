"""``enum``: replaces draws of discrete sites by their whole support, in fresh tensor dims.

A sample site marked ``infer={"enumerate": "parallel"}`` takes as its value
``fn.enumerate_support(expand=False)`` reshaped so that the support runs along
one batch dim to the left of every plate dim. Sites downstream then compute
their log-probabilities for every value at once by broadcasting, and an
inference algorithm sums (or maximizes) over those dims exactly.

Dims are allocated leftwards from ``first_available_dim`` (``-(max_plate_nesting
+ 1)``, one further left when particles are vectorized). Inside
:class:`~ppl.handlers.markov.markov` contexts a dim is reused once the variable
holding it is out of view of the site being enumerated, so the number of dims a
chain needs does not grow with its length.

Each sample site records, for the inference code that reads the trace:

* ``infer["_enum_dims"]``: ``{dim: name}`` of the enumerated variables in view
  at the site, the only ones its log-probability may depend on;
* ``infer["_enum_dim"]`` (enumerated sites only): the site's own dim; the
  variable is named by the site name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from distributions.distribution import Distribution
from distributions.utils import broadcast_shape
from ppl.runtime import Message, Messenger

__all__ = ["enum", "enumerated_value"]


def enumerated_value(fn: Distribution, dim: int, expand: bool = False) -> torch.Tensor:
    """The support of ``fn`` laid along batch dim ``dim`` (negative).

    Args:
        fn: a distribution with ``has_enumerate_support``.
        dim: the batch dim (counted from the right of the batch shape) to hold
            the support.
        expand: also expand the value over ``fn``'s batch shape.

    Returns:
        A tensor of shape ``(K,) + (1,) * (-dim - 1) + event_shape`` (or that
        shape broadcast with the batch shape when ``expand``).

    Example:
        >>> from distributions import Bernoulli
        >>> enumerated_value(Bernoulli(0.3), -3).shape
        torch.Size([2, 1, 1])
    """
    support = fn.enumerate_support(expand=False)
    event_shape = tuple(fn.event_shape)
    num_values = support.shape[0]
    value = support.reshape((num_values,) + (1,) * (-dim - 1) + event_shape)
    if expand:
        batch = broadcast_shape(value.shape[: value.dim() - len(event_shape)], fn.batch_shape)
        value = value.expand(batch + event_shape)
    return value


class enum(Messenger):
    """Enumerates the sample sites marked ``infer={"enumerate": "parallel"}``.

    Observed sites, sites whose value is already set (a replayed guide value),
    and sites marked otherwise are left alone, but every sample site records
    the enumerated variables in view (``infer["_enum_dims"]``). A site that
    arrives with ``infer["_enum_dim"]`` set (enumerated in a guide, then
    replayed) counts as an enumerated variable at that dim.

    Args:
        fn: the model.
        first_available_dim: the rightmost dim enumeration may use, e.g.
            ``-(max_plate_nesting + 1)``.

    Attributes:
        dims_used: every dim allocated in the latest run (its size is the
            number of enumeration dims the run needed).

    Raises:
        ValueError: for a non-negative ``first_available_dim``, a site whose
            distribution cannot be enumerated, or a batch shape that already
            uses the dim chosen for a site.

    Example:
        >>> import torch, ppl
        >>> from distributions import Bernoulli, Normal
        >>> def model():
        ...     z = ppl.sample("z", Bernoulli(0.5), infer={"enumerate": "parallel"})
        ...     with ppl.plate("data", 3):
        ...         ppl.sample("x", Normal(z, 1.0), obs=torch.zeros(3))
        >>> tr = ppl.handlers.trace(enum(model, first_available_dim=-2)).get_trace()
        >>> tr.nodes["z"].value.shape, tr.nodes["x"].infer["_enum_dims"]
        (torch.Size([2, 1]), {-2: 'z'})
    """

    def __init__(
        self, fn: Callable[..., Any] | None = None, first_available_dim: int | None = None
    ) -> None:
        super().__init__(fn)
        if first_available_dim is not None and (
            not isinstance(first_available_dim, int) or first_available_dim >= 0
        ):
            raise ValueError(
                "enum: first_available_dim must be a negative int, -(max_plate_nesting + 1), "
                f"got {first_available_dim!r}"
            )
        self.first_available_dim = first_available_dim
        self._reset()

    def _reset(self) -> None:
        self._global: dict[int, str] = {}  # dim -> name, variables outside every markov context
        self._dims: dict[str, int] = {}  # name -> dim of each enumerated variable
        self._depths: dict[str, int] = {}  # name -> markov depth of each enumerated variable
        self.dims_used: set[int] = set()

    def __enter__(self) -> enum:
        self._reset()
        return super().__enter__()

    def _in_view(self, msg: Message) -> dict[int, str]:
        visible = dict(self._global)
        scope = msg.infer.get("_markov_scope")
        if scope:
            for name, count in scope.items():
                if name in self._dims and self._depths[name] == count:
                    _claim(visible, self._dims[name], name, msg.name)
        return visible

    def _process_sample(self, msg: Message) -> None:
        visible = self._in_view(msg)
        msg.infer["_enum_dims"] = visible
        if "_enum_dim" in msg.infer and msg.value is not None:
            self._register(msg, msg.infer["_enum_dim"])
            return
        if msg.is_observed or msg.value is not None or msg.done:
            return
        if msg.infer.get("enumerate") != "parallel":
            return
        dim = self._allocate(msg, visible)
        msg.value = enumerated_value(msg.fn, dim, expand=msg.infer.get("expand", False))
        msg.infer["_enum_dim"] = dim
        msg.done = True
        self._register(msg, dim)

    def _allocate(self, msg: Message, visible: dict[int, str]) -> int:
        if self.first_available_dim is None:
            raise ValueError(
                f"enum: site '{msg.name}' is marked for parallel enumeration but no "
                "first_available_dim was given; pass enum(..., first_available_dim="
                "-(max_plate_nesting + 1))"
            )
        if not getattr(msg.fn, "has_enumerate_support", False):
            raise ValueError(
                f"enum: site '{msg.name}' is marked for enumeration but "
                f"{type(msg.fn).__name__} has no finite support to enumerate; drop "
                "infer={'enumerate': ...} there"
            )
        dim = self.first_available_dim
        while dim in visible:
            dim -= 1
        batch_shape = msg.fn.batch_shape
        if len(batch_shape) >= -dim and batch_shape[dim] != 1:
            raise ValueError(
                f"enum: site '{msg.name}' has batch shape {tuple(batch_shape)}, which already "
                f"uses dim {dim} chosen for its enumeration; a site outside the markov window "
                "of its parents, or more batch dims than max_plate_nesting allows (raise "
                "max_plate_nesting or wrap batch dims in plates)"
            )
        return dim

    def _register(self, msg: Message, dim: int) -> None:
        name = msg.name
        self._dims[name] = dim
        self._depths[name] = msg.infer.get("_markov_depth", 0)
        if self._depths[name] == 0:
            _claim(self._global, dim, name, name)
        msg.infer["_enum_dims"] = {**msg.infer["_enum_dims"], dim: name}
        self.dims_used.add(dim)


def _claim(dims: dict[int, str], dim: int, name: str, site: str) -> None:
    # Two variables in view at one dim can only come from a guide whose markov
    # context recycled a dim the model still sees: their tensors would mix.
    other = dims.get(dim)
    if other is not None and other != name:
        raise ValueError(
            f"enum: at site '{site}', enumerated sites '{other}' and '{name}' are both in view "
            f"but share dim {dim} (recycled by a markov context in the guide); give the model "
            "the same markov structure as the guide, or enumerate these sites in the model"
        )
    dims[dim] = name
