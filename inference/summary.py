"""``summary``: per-site posterior statistics (mean, std, quantiles) and a printable table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

__all__ = ["Summary", "summary"]


class Summary(dict):
    """Site name to a dict of statistics (``"mean"``, ``"std"``, ``"5%"``, ...).

    Each statistic has the site's shape (without the sample dim). ``str()``
    gives a table with one row per scalar element (``theta[3]``).
    """

    def __str__(self) -> str:
        rows = []
        for name, stats in self.items():
            columns = list(stats)
            flat = {key: value.reshape(-1) for key, value in stats.items()}
            shape = next(iter(stats.values())).shape
            for i, index in enumerate(_indices(shape)):
                label = name if not shape else f"{name}[{','.join(map(str, index))}]"
                rows.append([label] + [f"{flat[key][i].item():.3f}" for key in columns])
        if not rows:
            return "(no sites)"
        header = [""] + columns
        widths = [max(len(row[i]) for row in rows + [header]) for i in range(len(header))]
        lines = [_join(header, widths)] + [_join(row, widths) for row in rows]
        return "\n".join(lines)


def _indices(shape: Sequence[int]) -> list[tuple[int, ...]]:
    if not shape:
        return [()]
    return [
        tuple(int(i) for i in idx)
        for idx in torch.cartesian_prod(*[torch.arange(n) for n in shape]).reshape(-1, len(shape))
    ]


def _join(cells: Sequence[str], widths: Sequence[int]) -> str:
    first = cells[0].ljust(widths[0])
    rest = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:])]
    return "  ".join([first] + rest).rstrip()


def summary(
    samples: Mapping[str, torch.Tensor], quantiles: Sequence[float] = (0.05, 0.5, 0.95)
) -> Summary:
    """Summarizes draws per site: mean, standard deviation and quantiles over the sample dim.

    Args:
        samples: a dict of site name to draws with a leading sample dim (what
            :class:`~inference.predictive.Predictive` returns).
        quantiles: the levels to report, in ``[0, 1]``.

    Returns:
        A :class:`Summary`: ``result[site]["mean"]`` and so on; ``print`` it
        for a table.

    Raises:
        ValueError: for a site with no sample dim or with fewer than two draws.

    Example:
        >>> import torch
        >>> s = summary({"x": torch.arange(101.0)}, quantiles=(0.5,))
        >>> s["x"]["mean"].item(), s["x"]["50%"].item()
        (50.0, 50.0)
        >>> print(s)
             mean     std     50%
        x  50.000  29.300  50.000
    """
    levels = torch.as_tensor(quantiles, dtype=torch.float64)
    if levels.dim() != 1 or not bool(((levels >= 0) & (levels <= 1)).all()):
        raise ValueError(
            f"summary: quantiles must be a 1-d list of levels in [0, 1], got {quantiles!r}"
        )
    result = Summary()
    for name, value in samples.items():
        result[name] = _site_stats(name, torch.as_tensor(value), levels)
    return result


def _site_stats(name: str, value: torch.Tensor, levels: Any) -> Any:
    if value.dim() == 0 or value.shape[0] < 2:
        raise ValueError(
            f"summary: site '{name}' has shape {tuple(value.shape)}; expected at least two "
            "draws along a leading sample dim"
        )
    value = value.double() if not value.is_floating_point() else value
    stats = {"mean": value.mean(0), "std": value.std(0)}
    qs = torch.quantile(value, levels.to(value.dtype), dim=0)
    for level, q in zip(levels.tolist(), qs):
        stats[f"{100 * level:g}%"] = q
    return stats
