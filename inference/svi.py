"""``SVI``: stochastic variational inference steps over the parameter store.

Each step estimates the ELBO gradient (:mod:`inference.elbo`), checks that the
loss and every gradient are finite, and only then lets the optimizer update
the unconstrained parameters. A non-finite step changes nothing: parameters
and optimizer state stay exactly as they were.
"""

from __future__ import annotations

import cmath
import math
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import torch

from ppl import get_param_store
from ppl.handlers import trace
from ppl.trace_struct import Trace

__all__ = ["SVI", "NonFiniteLossError", "NonFiniteStepWarning"]


class NonFiniteLossError(RuntimeError):
    """A step produced a non-finite loss or gradient; nothing was updated."""


class NonFiniteStepWarning(UserWarning):
    """A non-finite step was skipped (``skip_nonfinite=True``)."""


class SVI:
    """Fits a guide to a model by stochastic gradient steps on an ELBO.

    Args:
        model: the model function.
        guide: the guide function (or an autoguide).
        optim: an optimizer from :mod:`inference.optim`.
        loss: an ELBO instance (``Trace_ELBO()``, ...), or any callable
            ``(model, guide, *args, **kwargs) -> loss tensor``.
        skip_nonfinite: warn and skip non-finite steps instead of raising.
        **static_kwargs: keyword arguments passed to model and guide at every step.

    Example:
        >>> import torch, ppl
        >>> from distributions import Normal
        >>> from inference import Trace_ELBO
        >>> from inference.optim import Adam
        >>> def model():
        ...     ppl.sample("x", Normal(1.0, 1.0), obs=torch.tensor(1.0))
        >>> def guide():
        ...     pass
        >>> isinstance(SVI(model, guide, Adam({"lr": 0.1}), Trace_ELBO()).step(), float)
        True
    """

    def __init__(
        self,
        model: Callable[..., Any],
        guide: Callable[..., Any],
        optim: Callable[[dict[str, torch.Tensor]], Any],
        loss: Any,
        skip_nonfinite: bool = False,
        **static_kwargs: Any,
    ) -> None:
        self.model = model
        self.guide = guide
        self.optim = optim
        self.loss = loss
        self.skip_nonfinite = skip_nonfinite
        self.static_kwargs = static_kwargs
        self.num_skipped = 0

    def _loss_and_grads(self, *args: Any, **kwargs: Any) -> float:
        # A compiled estimator's step that SVI takes eagerly (a warm-up, a
        # fallback) is its eager estimator's.
        eager = getattr(self.loss, "eager_loss_and_grads", None)
        if eager is not None:
            return eager(self.model, self.guide, *args, **kwargs)
        if hasattr(self.loss, "loss_and_grads"):
            return self.loss.loss_and_grads(self.model, self.guide, *args, **kwargs)
        loss = self.loss(self.model, self.guide, *args, **kwargs)
        if loss.requires_grad:
            loss.backward()
        return float(loss.detach())

    def step(self, *args: Any, **kwargs: Any) -> float:
        """Takes one gradient step; returns the loss (``-ELBO`` estimate) as a float.

        Raises:
            NonFiniteLossError: when the loss or a gradient is NaN/inf (unless
                ``skip_nonfinite``), naming the sites with non-finite terms.
        """
        kwargs = {**self.static_kwargs, **kwargs}
        compiled = getattr(self.loss, "svi_step", None)
        result = compiled(self, args, kwargs) if compiled is not None else None
        if result is not None:
            # A compiled step (inference.compiled_svi) applied itself, or nothing.
            if not result.finite:
                self._nonfinite(result.loss, result.bad_params, result.bad_sites)
            return result.loss
        # A step interrupted earlier (an exception, KeyboardInterrupt) may have
        # left gradients behind; they must not add to this step's.
        _clear_store_grads()
        with trace(param_only=True) as capture:
            loss = self._loss_and_grads(*args, **kwargs)
        params = _captured_params(capture.trace)
        bad = _nonfinite_grads(params)
        if not math.isfinite(loss) or bad:
            _zero_grads(params)
            reject = getattr(self.loss, "reject_step", None)
            if reject is not None:
                reject()
            self._nonfinite(loss, bad, _nonfinite_sites(getattr(self.loss, "last_traces", None)))
            return loss
        self.optim(params)
        _zero_grads(params)
        return loss

    def _nonfinite(self, loss: float, bad_params: list[str], sites: list[str]) -> None:
        message = (
            f"SVI step skipped: loss={loss}, non-finite gradients in params {bad_params}, "
            f"non-finite log-probs or values at sites {sites}; no parameter or optimizer "
            "state was changed. Check those sites' distributions and data, lower the "
            "learning rate, or pass skip_nonfinite=True to skip such steps."
        )
        if not self.skip_nonfinite:
            raise NonFiniteLossError(message)
        self.num_skipped += 1
        warnings.warn(message, NonFiniteStepWarning, stacklevel=3)

    def evaluate_loss(self, *args: Any, **kwargs: Any) -> float:
        """The loss at the current parameters, without gradients or updates."""
        kwargs = {**self.static_kwargs, **kwargs}
        if hasattr(self.loss, "loss"):
            return self.loss.loss(self.model, self.guide, *args, **kwargs)
        with torch.no_grad():
            return float(self.loss(self.model, self.guide, *args, **kwargs))

    def run(self, num_steps: int, *args: Any, progress: bool = True, **kwargs: Any) -> list[float]:
        """Takes ``num_steps`` steps with a tqdm bar of the running loss; returns the losses."""
        from tqdm.auto import tqdm  # type: ignore[import-untyped]  # tqdm ships no stubs

        losses: list[float] = []
        bar = tqdm(range(num_steps), disable=not progress, desc="SVI", leave=True)
        for _ in bar:
            losses.append(self.step(*args, **kwargs))
            if progress and len(losses) % 10 == 0:
                bar.set_postfix(loss=f"{sum(losses[-10:]) / 10:.4g}")
        return losses


def _captured_params(param_trace: Trace) -> dict[str, torch.Tensor]:
    store = get_param_store()
    return {
        name: store.get_unconstrained(name)
        for name, site in param_trace.nodes.items()
        if site.type == "param" and name in store
    }


def _nonfinite_grads(params: dict[str, torch.Tensor]) -> list[str]:
    grads = [(n, p.grad) for n, p in params.items() if p.grad is not None]
    if not grads:
        return []
    # A NaN or inf anywhere makes the sum of all entries NaN or inf: one
    # reduction per gradient (none for a scalar's), one sum of those and one
    # host read (an elementwise isfinite of every gradient costs 20x more on a
    # VAE's weights; on eight schools' six small gradients this is a third of
    # the cost of stacking per-gradient isfinite flags). A sum can also
    # overflow from finite entries, so only the exact per-gradient check below
    # names the culprits.
    try:
        total = torch.stack([g if g.dim() == 0 else g.sum() for _, g in grads]).sum()
        # cmath: complex gradients too; tolist() of a 0-dim tensor is item()
        # through less dispatch (a number, though typed as a list).
        if cmath.isfinite(total.tolist()):  # type: ignore[arg-type]
            return []
    except RuntimeError:  # gradients of several dtypes or devices do not stack
        pass
    return [n for n, g in grads if not torch.isfinite(g).all()]


def _clear_store_grads() -> None:
    store = get_param_store()
    for name in store.keys():
        store.get_unconstrained(name).grad = None


def _zero_grads(params: dict[str, torch.Tensor]) -> None:
    for p in params.values():
        p.grad = None


def _nonfinite_sites(traces: Iterable[Trace] | None) -> list[str]:
    if not traces:
        return []
    found = []
    for tr in traces:
        for name, site in tr.nodes.items():
            if site.type != "sample":
                continue
            values = [site.log_prob, site.value]
            for v in values:
                if (
                    isinstance(v, torch.Tensor)
                    and v.is_floating_point()
                    and not torch.isfinite(v).all()
                ):
                    found.append(name)
                    break
    return sorted(set(found))
