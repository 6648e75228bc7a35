"""Data-parallel inference on torch.distributed: same model, one shard per rank.

Launch with ``torchrun --nproc_per_node=W script.py``; in the script call
:func:`init_distributed`, then use :class:`DistributedSVI` where ``SVI`` would
go and :class:`DistributedPredictive` where ``Predictive`` would. Without
``torchrun`` the same script runs as one process.
"""

from inference.distributed.context import (
    DistributedStepError,
    all_gather_objects,
    all_gather_rows,
    all_reduce_sum,
    barrier,
    broadcast_from_rank0,
    comm_device,
    default_backend,
    get_rank,
    get_world_size,
    init_distributed,
    is_distributed,
    rank_device,
    rank_seed,
    seed_rank,
)
from inference.distributed.predictive import DistributedPredictive, split_counts
from inference.distributed.shard import distinct_indices, shard_plates
from inference.distributed.svi import DistributedSVI

__all__ = [
    "DistributedPredictive",
    "DistributedSVI",
    "DistributedStepError",
    "all_gather_objects",
    "all_gather_rows",
    "all_reduce_sum",
    "barrier",
    "broadcast_from_rank0",
    "comm_device",
    "default_backend",
    "distinct_indices",
    "get_rank",
    "get_world_size",
    "init_distributed",
    "is_distributed",
    "rank_device",
    "rank_seed",
    "seed_rank",
    "shard_plates",
    "split_counts",
]
