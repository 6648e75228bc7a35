"""The process group as inference sees it: rank, world size, device, seeds, collectives.

Everything here also works without a process group: a plain single process is
rank 0 of a world of size 1, and every collective is then the identity. So the
same script runs under ``torchrun`` and as ``python script.py``.

Collectives go through torch.distributed (gloo on CPU, NCCL on GPUs). A
failure inside one (a peer that died, a timeout) is re-raised as a
:class:`DistributedStepError` that says what this rank was doing.
"""

from __future__ import annotations

import datetime
import os
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.distributed as dist

from ppl import set_rng_seed

__all__ = [
    "DistributedStepError",
    "all_gather_objects",
    "all_gather_rows",
    "all_reduce_sum",
    "barrier",
    "broadcast_from_rank0",
    "comm_device",
    "default_backend",
    "get_rank",
    "get_world_size",
    "init_distributed",
    "is_distributed",
    "rank_device",
    "rank_seed",
    "seed_rank",
]

_MASK64 = (1 << 64) - 1


class DistributedStepError(RuntimeError):
    """Another rank failed (or a collective broke); this rank stops too, with nothing updated."""


def is_distributed() -> bool:
    """Whether a torch.distributed process group is initialized.

    Example:
        >>> is_distributed()
        False
    """
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    """This process's rank (0 without a process group).

    Example:
        >>> get_rank()
        0
    """
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    """The number of processes in the group (1 without a process group).

    Example:
        >>> get_world_size()
        1
    """
    return dist.get_world_size() if is_distributed() else 1


def default_backend(cuda_available: bool | None = None) -> str:
    """``"nccl"`` when CUDA is available, else ``"gloo"``.

    Example:
        >>> default_backend(cuda_available=False), default_backend(cuda_available=True)
        ('gloo', 'nccl')
    """
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    return "nccl" if cuda_available else "gloo"


def rank_device(local_rank: int | None = None, cuda_available: bool | None = None) -> torch.device:
    """The device this rank computes on: ``cuda:<local rank>`` with CUDA, else the CPU.

    Args:
        local_rank: the rank within this machine; ``$LOCAL_RANK`` (set by
            ``torchrun``) or 0 by default.
        cuda_available: override the CUDA check (for tests).

    Example:
        >>> rank_device(cuda_available=False)
        device(type='cpu')
        >>> rank_device(local_rank=1, cuda_available=True)
        device(type='cuda', index=1)
    """
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    if not cuda_available:
        return torch.device("cpu")
    if local_rank is None:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    return torch.device("cuda", local_rank)


def comm_device(backend: str, device: torch.device) -> torch.device:
    """Where tensors must be for a collective: the rank's GPU for NCCL, the CPU for gloo.

    Example:
        >>> comm_device("gloo", torch.device("cuda", 1))
        device(type='cpu')
        >>> comm_device("nccl", torch.device("cuda", 1))
        device(type='cuda', index=1)
    """
    return device if backend == "nccl" else torch.device("cpu")


def init_distributed(backend: str | None = None, timeout: float = 120.0) -> torch.device:
    """Joins the process group ``torchrun`` describes, or stays a single process.

    With ``$WORLD_SIZE`` set (``torchrun`` sets it, with ``$RANK``,
    ``$MASTER_ADDR`` and ``$MASTER_PORT``) this initializes torch.distributed;
    without it nothing is initialized and the run is rank 0 of 1. On a GPU
    machine the rank's device becomes the current CUDA device.

    Args:
        backend: ``"gloo"`` or ``"nccl"``; by default NCCL with CUDA, else gloo.
        timeout: seconds a collective may wait for the other ranks before it
            fails; this bounds how long a rank can hang on a peer that stopped
            without a word.

    Returns:
        The rank's device (see :func:`rank_device`).

    Example:
        >>> init_distributed().type  # no $WORLD_SIZE here: a single process
        'cpu'
    """
    device = rank_device()
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if is_distributed() or "WORLD_SIZE" not in os.environ:
        return device
    dist.init_process_group(
        backend or default_backend(device.type == "cuda"),
        timeout=datetime.timedelta(seconds=timeout),
    )
    return device


def _splitmix64(x: int) -> int:
    # SplitMix64's finalizer (Steele, Lea and Flood 2014, "Fast splittable
    # pseudorandom number generators", OOPSLA): nearby inputs give unrelated outputs.
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def rank_seed(seed: int, rank: int, epoch: int = 0, stream: str = "") -> int:
    """A 32-bit seed for one rank, epoch and named stream, derived from one user seed.

    The same arguments give the same seed in every process (``hash()`` is
    salted per process, so the stream name goes through CRC-32 instead).

    Args:
        seed: the user's seed (a non-negative int).
        rank: the rank (pass 0 for a stream every rank shares).
        epoch: a counter (the step at which the stream was last reseeded).
        stream: a name separating independent uses (e.g. a plate's name).

    Example:
        >>> rank_seed(0, 0) == rank_seed(0, 0), rank_seed(0, 0) == rank_seed(0, 1)
        (True, False)
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    x = _splitmix64(seed)
    for part in (rank, epoch, zlib.crc32(stream.encode())):
        x = _splitmix64(x ^ part)
    return x & 0xFFFFFFFF


def seed_rank(seed: int, epoch: int = 0) -> int:
    """Seeds torch, ``random`` and NumPy with this rank's own stream of ``seed``.

    Every rank gets a distinct, reproducible stream; the same seed and world
    size replay the same run.

    Returns:
        The seed used on this rank.

    Example:
        >>> import torch
        >>> _ = seed_rank(7); a = torch.rand(1)
        >>> _ = seed_rank(7); bool(torch.rand(1) == a)
        True
    """
    value = rank_seed(seed, get_rank(), epoch)
    set_rng_seed(value)
    return value


def _backend() -> str:
    return dist.get_backend() if is_distributed() else "gloo"


def _run(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except (RuntimeError, dist.DistBackendError) as error:
        raise DistributedStepError(
            f"rank {get_rank()}: the collective '{what}' failed ({error}). Another rank has "
            "probably died or stopped answering within the process group's timeout; look "
            "at that rank's log for the first error."
        ) from error


def all_reduce_sum(tensor: torch.Tensor, what: str = "all_reduce") -> torch.Tensor:
    """Sums ``tensor`` over the ranks (in place where possible); returns the sum.

    Example:
        >>> all_reduce_sum(torch.tensor([1.0, 2.0])).tolist()  # one rank: unchanged
        [1.0, 2.0]
    """
    if not is_distributed():
        return tensor
    device = comm_device(_backend(), tensor.device)
    work = tensor if tensor.device == device else tensor.to(device)
    _run(what, dist.all_reduce, work, op=dist.ReduceOp.SUM)
    return work if work is tensor else work.to(tensor.device)


def broadcast_from_rank0(tensor: torch.Tensor, what: str = "broadcast") -> torch.Tensor:
    """Returns rank 0's ``tensor`` on every rank (``tensor`` itself on rank 0).

    Example:
        >>> broadcast_from_rank0(torch.tensor([3.0])).tolist()
        [3.0]
    """
    if not is_distributed():
        return tensor
    device = comm_device(_backend(), tensor.device)
    work = tensor.detach().to(device).contiguous()
    _run(what, dist.broadcast, work, src=0)
    return work.to(tensor.device)


def all_gather_objects(obj: Any, what: str = "all_gather_object") -> list[Any]:
    """The list of every rank's ``obj`` (picklable), in rank order.

    Example:
        >>> all_gather_objects("hello")
        ['hello']
    """
    if not is_distributed():
        return [obj]
    out = [None] * get_world_size()
    _run(what, dist.all_gather_object, out, obj)
    return out


def all_gather_rows(
    tensor: torch.Tensor, counts: Sequence[int], what: str = "all_gather"
) -> torch.Tensor:
    """Concatenates every rank's ``tensor`` along dim 0, in rank order.

    Rank ``r``'s tensor has ``counts[r]`` rows and the same trailing shape on
    every rank; shorter ones are padded for the collective and trimmed after.

    Example:
        >>> all_gather_rows(torch.ones(2, 3), [2]).shape
        torch.Size([2, 3])
    """
    if not is_distributed():
        return tensor
    device = comm_device(_backend(), tensor.device)
    padded = torch.zeros((max(counts), *tensor.shape[1:]), dtype=tensor.dtype, device=device)
    padded[: tensor.shape[0]] = tensor.detach().to(device)
    parts = [torch.empty_like(padded) for _ in counts]
    _run(what, dist.all_gather, parts, padded)
    return torch.cat([part[:n] for part, n in zip(parts, counts)]).to(tensor.device)


def barrier(what: str = "barrier") -> None:
    """Waits until every rank arrives (nothing to wait for on one rank).

    Example:
        >>> barrier()
    """
    if is_distributed():
        _run(what, dist.barrier)
