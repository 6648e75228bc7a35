"""Baselines for score-function terms, configured per guide site.

``infer={"baseline": {...}}`` on a non-reparameterized guide site selects:

* ``use_decaying_avg_baseline`` (with ``baseline_beta``, default 0.90): an
  exponential moving average of the site's downstream cost (Williams 1992);
* ``nn_baseline`` with ``nn_baseline_input``: a module predicting the cost,
  trained jointly by adding ``(cost - b)^2`` to the loss that is minimized
  (Mnih & Gregor 2014, "Neural Variational Inference and Learning", arXiv 1402.0030);
* ``baseline_value``: a tensor (e.g. computed in the guide), trained the same way;
* ``loo``: the leave-one-out mean of the cost over the other vectorized
  particles (Kool et al. 2019, "Buy 4 REINFORCE samples, get a baseline for
  free!"; Mnih & Rezende 2016, VIMCO, arXiv 1602.06725). It needs
  ``vectorize_particles=True`` and at least two particles.

Every baseline is a function of information independent of the site's own
draw, so the estimator stays unbiased.

State changes only for accepted steps: a new moving average is *staged* by
an estimate and committed when the next estimate starts, unless
:meth:`Baselines.reject` dropped it first (``SVI`` does so for a skipped,
non-finite step), and a non-finite average is never committed.
"""

from __future__ import annotations

from typing import Any

import torch

import ppl
from ppl.runtime import Message

__all__ = ["Baselines", "BASELINE_KEYS"]

BASELINE_KEYS = frozenset(
    {
        "use_decaying_avg_baseline",
        "baseline_beta",
        "nn_baseline",
        "nn_baseline_input",
        "baseline_value",
        "loo",
    }
)


class Baselines:
    """Holds baseline state (moving averages) across steps for one ELBO object."""

    def __init__(self) -> None:
        self.averages: dict[str, torch.Tensor] = {}
        self.staged: dict[str, torch.Tensor] = {}
        self.update = True
        self.particle_dim: int | None = None
        self.num_particles = 1

    def commit(self) -> None:
        """Makes the staged averages current (the step that staged them was kept)."""
        for name, value in self.staged.items():
            if bool(torch.isfinite(value).all()):
                self.averages[name] = value
        self.staged = {}

    def reject(self) -> None:
        """Drops the staged averages (the step that staged them was skipped)."""
        self.staged = {}

    def __call__(self, name: str, site: Message, cost: torch.Tensor) -> tuple[Any, Any]:
        """Returns ``(baseline, extra_loss)`` for the site's detached ``cost``."""
        config = site.infer.get("baseline")
        if not config:
            return 0.0, 0.0
        unknown = set(config) - BASELINE_KEYS
        if unknown:
            raise ValueError(
                f"site '{name}': unknown baseline option(s) {sorted(unknown)}; "
                f"expected some of {sorted(BASELINE_KEYS)}"
            )
        if config.get("loo"):
            return self._leave_one_out(name, cost), 0.0
        if config.get("use_decaying_avg_baseline"):
            return self._decaying_average(name, cost, config.get("baseline_beta", 0.90)), 0.0
        if config.get("nn_baseline") is not None:
            module = config["nn_baseline"]
            ppl.module(f"_baseline_{name}", module)
            value = module(config["nn_baseline_input"])
            return value, _fit_loss(cost, value)
        if config.get("baseline_value") is not None:
            value = config["baseline_value"]
            return value, _fit_loss(cost, value)
        return 0.0, 0.0

    def _decaying_average(self, name: str, cost: torch.Tensor, beta: float) -> torch.Tensor:
        cost = torch.as_tensor(cost)
        # Within one estimate, later particles see the average staged by earlier ones.
        old = self.staged.get(name, self.averages.get(name))
        if old is None or old.shape != cost.shape:
            old = torch.zeros_like(cost)
        if self.update:
            self.staged[name] = (beta * old + (1 - beta) * cost).detach()
        return old

    def _leave_one_out(self, name: str, cost: torch.Tensor) -> torch.Tensor:
        n, dim = self.num_particles, self.particle_dim
        cost = torch.as_tensor(cost)
        if dim is None or n < 2 or cost.dim() < -dim or cost.shape[dim] != n:
            raise ValueError(
                f"site '{name}': the leave-one-out baseline (\"loo\": True) needs "
                "vectorize_particles=True and num_particles >= 2, so each particle's cost "
                "can be compared with the others'"
            )
        total = cost.sum(dim, keepdim=True)
        return (total - cost) / (n - 1)


def _fit_loss(cost: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    # Minimized with the loss, so the learned baseline moves towards the cost.
    diff = torch.as_tensor(cost).detach() - value
    return (diff * diff).sum()
