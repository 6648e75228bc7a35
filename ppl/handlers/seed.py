"""``seed`` and ``set_rng_seed``: reproducible randomness for torch, Python and NumPy."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ppl.runtime import Messenger

__all__ = ["seed", "set_rng_seed"]


def _check_seed(rng_seed: object) -> int:
    if not isinstance(rng_seed, int) or isinstance(rng_seed, bool):
        raise TypeError(f"rng_seed must be an int, got {rng_seed!r}")
    if not 0 <= rng_seed < 2**32:
        raise ValueError(f"rng_seed must be in [0, 2**32), got {rng_seed}")
    return rng_seed


def _seed_torch(rng_seed: int) -> None:
    # torch.manual_seed's lazy accelerator seeding would dominate each `seed` entry.
    if torch.accelerator.is_available():
        torch.manual_seed(rng_seed)
    else:
        torch.default_generator.manual_seed(rng_seed)


def set_rng_seed(rng_seed: int) -> None:
    """Seeds torch, Python's ``random`` and NumPy's global generator.

    Args:
        rng_seed: an int in ``[0, 2**32)``.

    Example:
        >>> import torch
        >>> set_rng_seed(0); a = torch.rand(1)
        >>> set_rng_seed(0); bool(torch.rand(1) == a)
        True
    """
    _check_seed(rng_seed)
    _seed_torch(rng_seed)
    random.seed(rng_seed)
    np.random.seed(rng_seed)


class seed(Messenger):
    """Runs the model with all random generators seeded, restoring them afterwards.

    On entry the states of torch (CPU, and CUDA when initialized), Python's
    ``random`` and NumPy are saved and seeded with ``rng_seed``; on exit they
    are restored, so code outside the block is unaffected by it. The handler
    intercepts no message, so it stays off the handler stack (and keeps the
    primitives' fast path).

    Args:
        fn: the model.
        rng_seed: an int in ``[0, 2**32)``.

    Example:
        >>> import torch
        >>> draw = seed(lambda: torch.rand(2), rng_seed=3)
        >>> bool((draw() == draw()).all())
        True
    """

    def __init__(self, fn: Callable[..., Any] | None = None, rng_seed: int | None = None) -> None:
        super().__init__(fn)
        self.rng_seed = _check_seed(rng_seed)
        self._saved: list[tuple[Any, ...]] = []

    def __enter__(self) -> seed:
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
        self._saved.append((torch.get_rng_state(), cuda, random.getstate(), np.random.get_state()))
        set_rng_seed(self.rng_seed)
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        torch_state, cuda, python_state, numpy_state = self._saved.pop()
        torch.set_rng_state(torch_state)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        return None
