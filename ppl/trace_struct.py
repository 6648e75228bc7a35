"""``Trace``: the record of one model run, site name to message.

A trace is what the ``trace`` handler produces and what inference reads: the
sample sites with their distributions, values, plates, scales and masks, the
parameters, the plates' subsample indices and the return value (``_RETURN``).
:meth:`Trace.compute_log_prob` adds each sample site's log-probability.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch

from distributions.utils import broadcast_shape
from ppl import validation
from ppl.runtime import Message

__all__ = ["Trace", "scale_and_mask"]


def scale_and_mask(log_prob: torch.Tensor, scale: Any = 1.0, mask: Any = None) -> torch.Tensor:
    """Applies a site's mask (zeroing masked-out entries) and then its scale.

    Args:
        log_prob: the unscaled log-probability tensor.
        scale: a number or a tensor broadcastable to ``log_prob``.
        mask: ``None``/``True`` (keep all), ``False`` (drop all) or a bool tensor.

    Returns:
        The scaled, masked tensor; ``torch.where`` keeps gradients of masked
        entries exactly zero even where ``log_prob`` is not finite.

    Example:
        >>> import torch
        >>> scale_and_mask(torch.tensor([1.0, 2.0]), 3.0, torch.tensor([True, False])).tolist()
        [3.0, 0.0]
    """
    if mask is not None and mask is not True:
        if mask is False:
            mask = torch.tensor(False, device=log_prob.device)
        log_prob = torch.where(mask, log_prob, log_prob.new_zeros(()))
    if not (isinstance(scale, (int, float)) and scale == 1.0):
        log_prob = log_prob * scale
    return log_prob


def _all_sites(name: str, site: Message) -> bool:
    return True


class _Nodes(dict[str, Message]):
    """The node table of a trace: a plain dict of sites, plus Pyro's ``_INPUT`` node.

    ``nodes["_INPUT"]`` answers with the call's arguments, but the node is not
    an entry: iterating, ``in``, ``len`` and ``get`` see only the sites, so code
    walking a trace's nodes meets no node type beyond the documented four.
    """

    input: Message | None = None

    def __missing__(self, key: str) -> Message:
        if key == "_INPUT" and self.input is not None:
            return self.input
        raise KeyError(key)


class Trace(Mapping[str, Message]):
    """An ordered mapping of site name to :class:`~ppl.runtime.Message` node.

    Node types are ``"sample"``, ``"param"``, ``"plate"`` and ``"return"``.
    A trace made by calling a traced function also answers
    ``nodes["_INPUT"]`` as Pyro's does (type ``"args"``, with ``args`` and
    ``kwargs`` of the call); that node is not iterated with the sites, and
    ``"_INPUT" in trace.nodes`` is false.

    Example:
        >>> import ppl
        >>> from distributions import Normal
        >>> tr = ppl.handlers.trace(lambda: ppl.sample("x", Normal(0.0, 1.0))).get_trace()
        >>> list(tr), tr.stochastic_nodes
        (['x', '_RETURN'], ['x'])
        >>> tr.log_prob_sum().shape
        torch.Size([])
    """

    def __init__(self) -> None:
        self.nodes = _Nodes()

    def set_input(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        """Records the arguments of the traced call as the ``_INPUT`` node."""
        self.nodes.input = Message(
            type="args", name="_INPUT", args=tuple(args), kwargs=dict(kwargs), done=True
        )

    # ------------------------------------------------------------- mapping
    def __getitem__(self, name: str) -> Message:
        return self.nodes[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def __contains__(self, name: object) -> bool:
        return name in self.nodes

    def __repr__(self) -> str:
        return f"Trace({list(self.nodes)})"

    # ------------------------------------------------------------ building
    def add_node(self, name: str, node: Message) -> None:
        """Adds a site; a second sample site (or a type change) under one name is an error.

        Params may be read several times (the latest read is kept); a plate
        name reused in one run must keep its size and dim.

        Raises:
            RuntimeError: for a duplicate sample site or a name used by two types.
            ValueError: for a plate name reused with another size or dim.
        """
        old = self.nodes.get(name)
        if old is not None:
            if old.type != node.type or node.type == "sample":
                raise validation.duplicate_site_error(name, old.type, node.type)
            if node.type == "plate":
                check_plate_reuse(old, node)
                return
        self.nodes[name] = node

    def remove_node(self, name: str) -> None:
        """Removes a site (no error when absent)."""
        self.nodes.pop(name, None)

    def copy(self) -> Trace:
        """A new trace holding copies of the nodes (tensors are shared)."""
        new = Trace()
        new.nodes.update((name, node.copy()) for name, node in self.nodes.items())
        new.nodes.input = getattr(self.nodes, "input", None)
        return new

    # ---------------------------------------------------------- site lists
    @property
    def stochastic_nodes(self) -> list[str]:
        """Names of the latent (unobserved) sample sites, in order."""
        return [n for n, s in self.nodes.items() if s.type == "sample" and not s.is_observed]

    @property
    def reparameterized_nodes(self) -> list[str]:
        """Names of the latent sample sites whose distribution has ``rsample``."""
        return [
            n
            for n, s in self.nodes.items()
            if s.type == "sample" and not s.is_observed and getattr(s.fn, "has_rsample", False)
        ]

    @property
    def nonreparam_stochastic_nodes(self) -> list[str]:
        """Names of the latent sample sites that need a score-function estimator."""
        reparam = set(self.reparameterized_nodes)
        return [n for n in self.stochastic_nodes if n not in reparam]

    @property
    def observation_nodes(self) -> list[str]:
        """Names of the observed sample sites, in order."""
        return [n for n, s in self.nodes.items() if s.type == "sample" and s.is_observed]

    @property
    def param_nodes(self) -> list[str]:
        """Names of the param sites, in order."""
        return [n for n, s in self.nodes.items() if s.type == "param"]

    def iter_stochastic_nodes(self) -> Iterator[tuple[str, Message]]:
        """Yields ``(name, node)`` for the latent sample sites."""
        for name, site in self.nodes.items():
            if site.type == "sample" and not site.is_observed:
                yield name, site

    # ---------------------------------------------------------- log-probs
    def compute_log_prob(self, site_filter: Callable[[str, Message], bool] = _all_sites) -> None:
        """Computes ``log_prob`` and ``unscaled_log_prob`` of sample sites.

        ``log_prob_sum`` is summed when first read. Sites already computed are
        skipped. A ``deterministic`` site gets zeros without scoring its value.

        Args:
            site_filter: ``(name, node) -> bool`` selecting the sites.

        Raises:
            ValueError, RuntimeError: from ``log_prob``, re-raised naming the
                site, with the shape table appended.
        """
        for name, site in self.nodes.items():
            if site.type != "sample" or site.log_prob is not None or not site_filter(name, site):
                continue
            try:
                unscaled = _site_log_prob(site)
            except (ValueError, RuntimeError) as e:
                raise type(e)(
                    f"Error while computing log_prob at site '{name}': {e}\n"
                    f"{self.format_shapes(last_site=name)}"
                ).with_traceback(e.__traceback__) from None
            site.set_log_prob(unscaled, scale_and_mask(unscaled, site.scale, site.mask))

    def log_prob_sum(
        self, site_filter: Callable[[str, Message], bool] = _all_sites
    ) -> torch.Tensor:
        """The total scaled, masked log-probability of the selected sample sites.

        Args:
            site_filter: ``(name, node) -> bool`` selecting the sites.

        Returns:
            A scalar tensor (``0.`` when no site is selected).
        """
        self.compute_log_prob(site_filter)
        total = 0.0
        for name, site in self.nodes.items():
            if site.type == "sample" and site_filter(name, site):
                total = total + site.log_prob_sum
        return total if isinstance(total, torch.Tensor) else torch.tensor(total)

    # ------------------------------------------------------------- display
    def format_shapes(self, title: str = "Trace shapes:", last_site: str | None = None) -> str:
        """A table of each site's distribution, batch | event, value and log-prob shapes.

        The log-prob column shows the computed shape, or the shape
        ``log_prob`` would have (the value's batch shape broadcast with the
        distribution's) before :meth:`compute_log_prob`.

        Args:
            title: the first line.
            last_site: stop after this site (the one that failed).

        Returns:
            The table as one string.
        """
        rows = [("site", "type", "dist", "batch | event", "value", "log_prob", "plates")]
        for name, site in self.nodes.items():
            if site.type in ("sample", "param"):
                rows.append(_format_row(name, site))
            if name == last_site:
                break
        plates = [
            f"{name}: size {site.args[0]}, subsample {_subsample_len(site)}"
            for name, site in self.nodes.items()
            if site.type == "plate"
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = [title]
        for row in rows:
            lines.append("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if plates:
            lines.append("  plates: " + "; ".join(plates))
        return "\n".join(lines)


def check_plate_reuse(old: Message, new: Message) -> None:
    """Checks a plate name seen twice in one run keeps its size and requested dim.

    Raises:
        ValueError: naming the plate, both sizes and both dims.
    """
    old_dim, new_dim = old.kwargs.get("dim"), new.kwargs.get("dim")
    if old.args[0] != new.args[0] or (
        old_dim is not None and new_dim is not None and old_dim != new_dim
    ):
        raise validation.plate_reuse_error(new.name, (old.args[0], old_dim), (new.args[0], new_dim))


def _site_log_prob(site: Message) -> torch.Tensor:
    if site.infer.get("_deterministic"):
        return torch.zeros(_predicted_log_prob_shape(site), device=site.value.device)
    return site.fn.log_prob(site.value)


def _predicted_log_prob_shape(site: Message) -> torch.Size:
    value, fn = site.value, site.fn
    split = value.dim() - len(fn.event_shape)
    return broadcast_shape(value.shape[:split], fn.batch_shape)


def _shape(shape: tuple[int, ...] | torch.Size) -> str:
    return str(tuple(shape))


def _subsample_len(site: Message) -> int:
    value = site.value
    return len(value) if value is not None else site.args[1]


def _format_row(name: str, site: Message) -> tuple[str, str, str, str, str, str, str]:
    value = site.value
    value_shape = _shape(value.shape) if isinstance(value, torch.Tensor) else "-"
    plates = ",".join(f.name for f in site.cond_indep_stack)
    if site.type == "param":
        return (name, "param", "-", "-", value_shape, "-", plates)
    fn = site.fn
    kind = "observed" if site.is_observed else "sample"
    if not hasattr(fn, "batch_shape"):
        return (name, kind, type(fn).__name__, "-", value_shape, "-", plates)
    dist = f"{_shape(fn.batch_shape)} | {_shape(fn.event_shape)}"
    if site.log_prob is not None:
        log_prob = _shape(site.log_prob.shape)
    elif isinstance(value, torch.Tensor):
        try:
            log_prob = _shape(_predicted_log_prob_shape(site))
        except RuntimeError:
            log_prob = "does not broadcast"
    else:
        log_prob = "-"
    return (name, kind, type(fn).__name__, dist, value_shape, log_prob, plates)
