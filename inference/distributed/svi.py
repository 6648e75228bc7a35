"""``DistributedSVI``: data-parallel SVI steps, one gradient all-reduce per step.

Every rank runs the same model and guide on its own plate indices
(:class:`~inference.distributed.shard.shard_plates`), then the ranks sum one
flattened bucket holding a small header and every gradient. Scaled by
``1 / W`` before the sum, the result is the gradient of the combined,
unbiased full-data ELBO estimate (the derivation is in
:mod:`inference.distributed.shard`), identical on every rank, so the
optimizers take identical steps and the parameters never drift apart.

The header carries, per rank, whether it raised and whether its loss or a
gradient was non-finite, plus whether its set of parameters changed. So one
collective decides for every rank at once: apply the step, skip it, or stop.
New parameters are broadcast from rank 0 and the step is recomputed from the
same random state, so they start from rank 0's values on every rank.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch

from inference.distributed.context import (
    DistributedStepError,
    all_gather_objects,
    all_reduce_sum,
    barrier,
    broadcast_from_rank0,
    get_rank,
    get_world_size,
    rank_device,
    seed_rank,
)
from inference.distributed.shard import shard_plates
from inference.svi import SVI, NonFiniteLossError, NonFiniteStepWarning
from ppl import get_param_store
from ppl.handlers import trace

__all__ = ["DistributedSVI"]

_MAX_ATTEMPTS = 3


class DistributedSVI(SVI):
    """SVI on every rank of a torch.distributed group, with parameters kept identical.

    Use it where :class:`~inference.svi.SVI` would go; the model and guide
    are unchanged. Subsampled plates draw disjoint indices on the ranks;
    full plates named in ``shard`` are split into per-rank blocks (index the
    data with the plate's indices there). Without a process group it is
    plain SVI on one rank, which is also how a checkpoint resumes on one
    process.

    On construction every rank seeds torch, ``random`` and NumPy with its own
    stream derived from ``seed`` (:func:`~inference.distributed.context.seed_rank`).

    Args:
        model, guide, optim, loss, skip_nonfinite: as for
            :class:`~inference.svi.SVI`. With ``skip_nonfinite=False`` a
            non-finite loss or gradient on any rank raises
            :class:`~inference.svi.NonFiniteLossError` on every rank.
        seed: one seed for all ranks (every rank must pass the same value).
        shard: names of full plates to split across the ranks.
        **static_kwargs: as for :class:`~inference.svi.SVI`.

    Attributes:
        rank, world_size, device: this process's place in the group and the
            device its parameters and data belong on.
        num_steps: steps taken so far (saved in checkpoints).

    Example:
        >>> import torch, ppl
        >>> from distributions import Normal
        >>> from inference import Trace_ELBO
        >>> from inference.optim import Adam
        >>> data = torch.randn(100) + 3.0
        >>> def model():
        ...     loc = ppl.param("loc", torch.tensor(0.0))
        ...     with ppl.plate("data", 100, subsample_size=10) as idx:
        ...         ppl.sample("x", Normal(loc, 1.0), obs=data[idx])
        >>> svi = DistributedSVI(model, lambda: None, Adam({"lr": 0.1}), Trace_ELBO(), seed=0)
        >>> losses = [svi.step() for _ in range(200)]
        >>> abs(ppl.get_param_store()["loc"].item() - 3.0) < 0.5
        True
    """

    def __init__(
        self,
        model: Callable[..., Any],
        guide: Callable[..., Any],
        optim: Any,
        loss: Any,
        skip_nonfinite: bool = False,
        *,
        seed: int = 0,
        shard: Iterable[str] = (),
        **static_kwargs: Any,
    ) -> None:
        super().__init__(model, guide, optim, loss, skip_nonfinite, **static_kwargs)
        self.seed = seed
        self.shard = (shard,) if isinstance(shard, str) else tuple(shard)
        self.rank = get_rank()
        self.world_size = get_world_size()
        self.device = rank_device()
        self.num_steps = 0
        self._layout: tuple[tuple[str, tuple[int, ...], str], ...] = ()
        self._num_evaluations = 0
        seed_rank(seed)

    # ------------------------------------------------------------------ step
    def step(self, *args: Any, **kwargs: Any) -> float:
        """Takes one data-parallel step on every rank; returns the combined loss.

        Returns:
            The sum over ranks of ``loss / W``: an estimate of the full-data
            ``-ELBO``, the same float on every rank.

        Raises:
            NonFiniteLossError: on every rank, when any rank's loss or
                gradient is non-finite (unless ``skip_nonfinite``).
            DistributedStepError: on the other ranks when one rank raised
                (that rank re-raises its own error), or when a collective failed.
        """
        kwargs = {**self.static_kwargs, **kwargs}
        self.num_steps += 1
        rng = _rng_state(self.device)
        for _ in range(_MAX_ATTEMPTS):
            done, loss = self._attempt(args, kwargs)
            if done:
                return loss
            _set_rng_state(self.device, rng)  # recompute with the same draws
        raise DistributedStepError(
            f"step {self.num_steps}: new parameters appeared in {_MAX_ATTEMPTS} consecutive "
            "attempts; create parameters the same way on every run of the model and guide"
        )

    def _attempt(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[bool, Any]:
        error, loss, params = self._local_step(args, kwargs)
        layout = self._layout
        changed = error is None and _layout_of(params) != layout
        w, device = self.world_size, self.device
        bucket = _pack(self.rank, w, error, changed, loss, params, layout, device)
        bucket = all_reduce_sum(bucket, what=f"gradient all-reduce of step {self.num_steps}")
        header = _Header(bucket, self.world_size, len(layout))
        if header.errors:
            _zero_grads(params)
            self._stop(error, header.errors)
        if header.changed:
            _zero_grads(params)
            self._sync_layout(_layout_of(params))
            return False, None
        total = float(header.loss)
        if header.nonfinite:
            _zero_grads(params)
            self._skip(total, header.nonfinite)
            return True, total
        _unpack(bucket, header, params, layout)
        self.optim(params)
        _zero_grads(params)
        return True, total

    def _local_step(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[BaseException | None, Any, dict[str, torch.Tensor]]:
        try:
            with shard_plates(seed=self.seed, epoch=self.num_steps, shard=self.shard):
                with trace(param_only=True) as capture:
                    loss = self._local_loss_and_grads(args, kwargs)
        except Exception as error:  # every rank must still join the all-reduce
            _zero_grads(dict(get_param_store().named_parameters()))  # a partial backward
            return error, math.nan, {}
        store = get_param_store()
        params = {
            name: store.get_unconstrained(name)
            for name, site in capture.trace.nodes.items()
            if site.type == "param" and name in store
        }
        return None, loss, params

    def _local_loss_and_grads(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if hasattr(self.loss, "loss_and_grads"):
            return self.loss.loss_and_grads(self.model, self.guide, *args, **kwargs)
        loss = self.loss(self.model, self.guide, *args, **kwargs)
        if loss.requires_grad:
            loss.backward()
        return float(loss)

    # ------------------------------------------------------- rare outcomes
    def _sync_layout(self, layout: tuple[tuple[str, tuple[int, ...], str], ...]) -> None:
        layouts = all_gather_objects(layout, what="parameter layout exchange")
        if any(other != layout for other in layouts):
            raise DistributedStepError(_layout_mismatch(self.num_steps, layouts))
        known = {name for name, _, _ in self._layout}
        store = get_param_store()
        for name, _, _ in layout:
            if name not in known:
                leaf = store.get_unconstrained(name)
                value = broadcast_from_rank0(leaf, what=f"broadcast of new param '{name}'")
                with torch.no_grad():
                    leaf.copy_(value)
        self._layout = layout

    def _stop(self, error: BaseException | None, failed: Sequence[int]) -> None:
        messages = all_gather_objects(
            None if error is None else f"{type(error).__name__}: {error}",
            what="error report exchange",
        )
        if error is not None:
            raise error
        reports = "; ".join(f"rank {r}: {messages[r]}" for r in failed)
        raise DistributedStepError(
            f"step {self.num_steps} stopped on rank {self.rank} because rank(s) {failed} "
            f"raised ({reports}). No rank applied this step; fix the error shown in that "
            "rank's traceback."
        )

    def _skip(self, loss: float, bad_ranks: Sequence[int]) -> None:
        message = (
            f"DistributedSVI step {self.num_steps} skipped on every rank: non-finite loss or "
            f"gradient on rank(s) {bad_ranks} (combined loss={loss}); no parameter or "
            "optimizer state was changed. Check those ranks' data and sites, lower the "
            "learning rate, or pass skip_nonfinite=True to skip such steps."
        )
        if not self.skip_nonfinite:
            raise NonFiniteLossError(message)
        self.num_skipped += 1
        if self.rank == 0:  # logs from rank 0 only; every rank skipped alike
            warnings.warn(message, NonFiniteStepWarning, stacklevel=4)

    # ------------------------------------------------------ other entries
    def evaluate_loss(self, *args: Any, **kwargs: Any) -> float:
        """The combined loss at the current parameters (no gradients, no update).

        A collective: call it on every rank.

        Each call draws fresh plate indices (from their own stream, so the
        steps' indices are unaffected).
        """
        kwargs = {**self.static_kwargs, **kwargs}
        self._num_evaluations += 1
        error, loss = None, math.nan
        try:
            plates = shard_plates(
                seed=self.seed, epoch=self._num_evaluations, shard=self.shard, stream="evaluate/"
            )
            with plates:
                loss = _evaluate(self.loss, self.model, self.guide, args, kwargs)
        except Exception as caught:  # joins the all-reduce, then stops every rank
            error = caught
        bucket = _pack(self.rank, self.world_size, error, False, loss, {}, (), self.device)
        header = _Header(all_reduce_sum(bucket, what="loss all-reduce"), self.world_size, 0)
        if header.errors:
            self._stop(error, header.errors)
        return float(header.loss)

    def run(self, num_steps: int, *args: Any, progress: bool = True, **kwargs: Any) -> Any:
        """As :meth:`SVI.run`, with the progress bar on rank 0 only."""
        return super().run(num_steps, *args, progress=progress and self.rank == 0, **kwargs)

    def save_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Rank 0 writes parameters, optimizer state and step count; every rank calls this.

        The write is atomic (:meth:`ppl.ParamStore.save`). Afterwards every
        rank reseeds from ``(seed, rank, num_steps)``, so a run resumed from
        this file with the same world size continues exactly as this one.
        """
        if self.rank == 0:
            get_param_store().save(path, extra=self._extra())
        barrier(what=f"checkpoint {path}")
        seed_rank(self.seed, epoch=self.num_steps)

    def load_checkpoint(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        """Reads a checkpoint into the store and this object's optimizer (call before stepping).

        Every rank reads the same file, so the parameters agree without a
        broadcast. The world size may differ from the one that wrote it.
        """
        extra = get_param_store().load(path, map_location=self.device) or {}
        if "optim" in extra and hasattr(self.optim, "load_state_dict"):
            self.optim.load_state_dict(extra["optim"])
        self.num_steps = int(extra.get("num_steps", 0))
        seed_rank(self.seed, epoch=self.num_steps)
        return extra

    def _extra(self) -> dict[str, Any]:
        optim = self.optim.state_dict() if hasattr(self.optim, "state_dict") else {}
        return {"optim": optim, "num_steps": self.num_steps, "seed": self.seed}


class _Header:
    # Bucket layout: [raised per rank (W), non-finite per rank (W), changed, loss/W,
    # has-grad per param (P), gradients...]

    def __init__(self, bucket: torch.Tensor, world_size: int, num_params: int) -> None:
        w = world_size
        head = bucket[: 2 * w + 2 + num_params].tolist()
        self.errors = [r for r in range(w) if head[r] > 0]
        self.nonfinite = [r for r in range(w) if head[w + r] > 0]
        self.changed = head[2 * w] > 0
        self.loss = head[2 * w + 1]
        self.has_grad = [h > 0 for h in head[2 * w + 2 :]]
        self.size = len(head)


def _pack(
    rank: int,
    world_size: int,
    error: BaseException | None,
    changed: bool,
    loss: Any,
    params: Mapping[str, torch.Tensor],
    layout: tuple[tuple[str, tuple[int, ...], str], ...],
    device: torch.device,
) -> torch.Tensor:
    # Sizes and dtype follow the layout every rank agreed on, so the buckets
    # always match even when this rank failed or found new parameters.
    dtype = _bucket_dtype(layout)
    offset = 2 * world_size + 2
    head = torch.zeros(offset + len(layout), dtype=dtype, device=device)
    head[2 * world_size] = 1.0 if changed else 0.0
    if error is not None or changed:
        head[rank] = 1.0 if error is not None else 0.0
        zeros = torch.zeros(sum(math.prod(shape) for _, shape, _ in layout), dtype=dtype)
        return torch.cat([head, zeros.to(device)])
    flat = [head]
    for i, (name, shape, _) in enumerate(layout):
        grad = params[name].grad
        if grad is None:
            flat.append(torch.zeros(math.prod(shape), dtype=dtype, device=device))
            continue
        head[offset + i] = 1.0
        flat.append(grad.reshape(-1).to(device=device, dtype=dtype) / world_size)
    head[2 * world_size + 1] = loss / world_size
    bucket = torch.cat(flat)
    # One check over every gradient at once, with no host sync.
    bad = ~bucket[offset + len(layout) :].isfinite().all()
    bucket[world_size + rank] = (bad | (not math.isfinite(loss))).to(dtype)
    return bucket


def _bucket_dtype(layout: tuple[tuple[str, tuple[int, ...], str], ...]) -> torch.dtype:
    dtype = torch.get_default_dtype()
    for _, _, name in layout:
        dtype = torch.promote_types(dtype, getattr(torch, name))
    return dtype


def _unpack(
    bucket: torch.Tensor,
    header: _Header,
    params: Mapping[str, torch.Tensor],
    layout: tuple[tuple[str, tuple[int, ...], str], ...],
) -> None:
    offset = header.size
    for (name, shape, _), has_grad in zip(layout, header.has_grad):
        p, n = params[name], math.prod(shape)
        if has_grad:
            p.grad = bucket[offset : offset + n].view(p.shape).to(device=p.device, dtype=p.dtype)
        offset += n


def _layout_of(params: Mapping[str, torch.Tensor]) -> tuple[tuple[str, tuple[int, ...], str], ...]:
    # (name, shape, dtype name) per parameter, sorted: what every rank must agree on.
    return tuple(
        sorted((name, tuple(p.shape), str(p.dtype).split(".")[-1]) for name, p in params.items())
    )


def _layout_mismatch(step: int, layouts: Sequence[Any]) -> str:
    lines = "\n".join(f"  rank {r}: {layout}" for r, layout in enumerate(layouts))
    return (
        f"step {step}: the ranks' models and guides use different parameters (name, "
        f"shape):\n{lines}\nEvery rank must create the same parameters with the same "
        "shapes; make parameter creation independent of the rank's data."
    )


def _zero_grads(params: Mapping[str, torch.Tensor]) -> None:
    for p in params.values():
        p.grad = None


def _evaluate(
    loss: Any,
    model: Callable[..., Any],
    guide: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> float:
    if hasattr(loss, "loss"):
        return loss.loss(model, guide, *args, **kwargs)
    with torch.no_grad():
        return float(loss(model, guide, *args, **kwargs))


def _rng_state(device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return torch.get_rng_state(), cuda


def _set_rng_state(device: torch.device, state: tuple[torch.Tensor, torch.Tensor | None]) -> None:
    cpu, cuda = state
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state(cuda, device)
