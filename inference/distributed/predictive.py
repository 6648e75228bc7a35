"""``DistributedPredictive``: ``Predictive`` with its samples split across the ranks.

Rank ``r`` draws its share of ``num_samples`` (the first ``num_samples % W``
ranks one more), or its slice of the given ``posterior_samples``, with its
own random stream; the shares are then gathered on every rank in rank order,
so the result has the shapes a single-process :class:`~inference.Predictive`
gives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch

from inference.distributed.context import all_gather_rows, get_rank, get_world_size
from inference.predictive import Predictive

__all__ = ["DistributedPredictive", "split_counts"]


def split_counts(total: int, world_size: int) -> list[int]:
    """How many of ``total`` samples each rank draws: as even as possible, rank order.

    Example:
        >>> split_counts(10, 3)
        [4, 3, 3]
    """
    return [total // world_size + (r < total % world_size) for r in range(world_size)]


class DistributedPredictive:
    """Posterior predictive samples drawn in parallel by every rank and gathered on all.

    Takes the arguments of :class:`~inference.Predictive`. Each rank should
    have its own random stream (:class:`~inference.distributed.DistributedSVI`
    seeds one per rank; else call
    :func:`~inference.distributed.context.seed_rank`).

    Args:
        model, guide, posterior_samples, num_samples, return_sites, parallel:
            as for :class:`~inference.Predictive`.

    Raises:
        ValueError: when there are fewer samples than ranks.

    Example:
        >>> import ppl, torch
        >>> from distributions import Normal
        >>> def model():
        ...     ppl.sample("mu", Normal(0.0, 1.0))
        >>> DistributedPredictive(model, num_samples=50)()["mu"].shape
        torch.Size([50])
    """

    def __init__(
        self,
        model: Callable[..., Any],
        guide: Callable[..., Any] | None = None,
        posterior_samples: Mapping[str, torch.Tensor] | None = None,
        num_samples: int | None = None,
        return_sites: Iterable[str] | None = None,
        parallel: bool = True,
    ) -> None:
        posterior_samples = dict(posterior_samples or {})
        total = _total(posterior_samples, num_samples)
        world_size, rank = get_world_size(), get_rank()
        if total < world_size:
            raise ValueError(
                f"DistributedPredictive: {total} samples cannot be split over {world_size} "
                f"ranks; ask for num_samples >= {world_size}"
            )
        self.counts = split_counts(total, world_size)
        start = sum(self.counts[:rank])
        stop = start + self.counts[rank]
        local = {name: value[start:stop] for name, value in posterior_samples.items()}
        self.num_samples = total
        self.local = Predictive(
            model,
            guide=guide,
            posterior_samples=local or None,
            num_samples=None if local else self.counts[rank],
            return_sites=return_sites,
            parallel=parallel,
        )

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
        """Draws this rank's share and gathers all; returns ``(num_samples, ...)`` per site."""
        samples = self.local(*args, **kwargs)
        return {
            name: all_gather_rows(samples[name], self.counts, what=f"gather of site '{name}'")
            for name in sorted(samples)
        }

    get_samples = __call__


def _total(posterior_samples: Mapping[str, torch.Tensor], num_samples: int | None) -> int:
    if posterior_samples:
        return next(iter(posterior_samples.values())).shape[0]
    if num_samples is None:
        raise ValueError(
            "DistributedPredictive: pass num_samples (how many draws in all) or posterior_samples"
        )
    return num_samples
