"""Running a per-sample function over many samples: one vectorized pass, or a loop.

Predictive checks and importance sampling run a model once per posterior
sample. :class:`SampleMap` runs the per-sample function once for all of them
with ``torch.vmap`` (``randomness="different"``, so every sample gets its own
draws), which keeps the model's per-sample shape semantics exactly: a model
written for one sample runs unchanged, whatever batch dims its sites have.
An outer plate cannot promise that: it only vectorizes models whose every
tensor operation broadcasts along the new dim (pyroapi's
``logistic_regression`` sums ``coefs * x`` over its last axis, and breaks).

Models ``vmap`` cannot run (Python control flow on tensor values,
``.item()``, in-place random fills of fresh tensors) fall back to a Python
loop, with a single :class:`VectorizationWarning`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import torch

from ppl import get_param_store, validation_enabled
from ppl.runtime import Message, Messenger

__all__ = ["SampleMap", "VectorizationWarning"]


_RESIZE_WARNING = "An output with one or more elements was resized"


class VectorizationWarning(UserWarning):
    """A model could not be vectorized over samples and ran in a Python loop."""


class SampleMap:
    """Maps ``fn(index, sample)`` over ``num_samples`` samples, vectorized when possible.

    ``fn`` takes a sample index (a 0-dim long tensor) and a dict of this
    sample's slice of the batched inputs, and returns a dict of tensors; the
    results are stacked along a new leading dim.

    Args:
        owner: the name warnings use (e.g. ``"Predictive"``).
        parallel: try ``torch.vmap`` first; after one failure this map stays
            sequential (and warns only that once).

    Example:
        >>> m = SampleMap("demo")
        >>> out = m(lambda i, s: {"y": s["x"] * 2 + torch.randn(())}, 4, {"x": torch.zeros(4)})
        >>> out["y"].shape, m.parallel
        (torch.Size([4]), True)
    """

    def __init__(self, owner: str, parallel: bool = True) -> None:
        self.owner = owner
        self.parallel = parallel

    def __call__(
        self,
        fn: Callable[[torch.Tensor, Any], Any],
        num_samples: int,
        batched: Mapping[str, torch.Tensor],
    ) -> dict[str, torch.Tensor]:
        if self.parallel:
            try:
                return _vectorized(fn, num_samples, batched)
            except Exception as error:  # any vmap failure means "loop instead"
                return self._fall_back(fn, num_samples, batched, error)
        return _loop(fn, num_samples, batched)

    def _fall_back(
        self,
        fn: Callable[[torch.Tensor, Any], Any],
        num_samples: int,
        batched: Mapping[str, torch.Tensor],
        error: BaseException,
    ) -> dict[str, torch.Tensor]:
        # A model broken for one sample too is not a vectorization problem:
        # raise its own error rather than a warning.
        first = fn(torch.tensor(0), _slice(batched, 0))
        self.parallel = False
        warnings.warn(
            f"{self.owner}: the model could not be vectorized over {num_samples} samples "
            f"with torch.vmap ({type(error).__name__}: {_first_line(error)}); running them "
            f"in a Python loop instead, now and in later calls. Pass parallel=False to "
            f"choose the loop without this warning",
            VectorizationWarning,
            stacklevel=3,
        )
        return _loop(fn, num_samples, batched, first=first)


class _defer_new_params(Messenger):
    # Creating a parameter marks a tensor as requiring grad, which vmap
    # forbids; a parameter first met inside vmap takes its initial value there
    # and is created in the store once vmap returns.

    def __init__(self, created: dict[str, Any]) -> None:
        super().__init__()
        self.created = created

    def _process_param(self, msg: Message) -> None:
        name, init = msg.name, msg.args[1]
        if name in get_param_store() or init is None:
            return
        if name not in self.created:
            if callable(init) and not isinstance(init, torch.Tensor):
                init = init()
            init = torch.as_tensor(init)
            if torch._C._functorch.is_batchedtensor(init):
                raise RuntimeError(f"param '{name}' is created from a per-sample value")
            self.created[name] = (init, msg.kwargs)
        msg.value = self.created[name][0]
        msg.done = True


def _vectorized(
    fn: Callable[[torch.Tensor, Any], Any], num_samples: int, batched: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    created: dict[str, Any] = {}

    def run(index: Any, values: Any) -> Any:
        with _defer_new_params(created):
            return fn(index, values)

    # Validation checks branch on tensor values, which vmap cannot do; the
    # sequential fallback keeps them. torch's batching rule of `torch.binomial`
    # with one batched and one unbatched input resizes its output (correctly,
    # but with a deprecation warning): silence just that message.
    with validation_enabled(False), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_RESIZE_WARNING, category=UserWarning)
        result = torch.vmap(run, randomness="different")(torch.arange(num_samples), batched)
    store = get_param_store()
    for name, (init, kwargs) in created.items():
        store.get_param(name, init, **kwargs)
    return result


def _slice(batched: Mapping[str, torch.Tensor], i: int) -> dict[str, torch.Tensor]:
    return {name: value[i] for name, value in batched.items()}


def _loop(
    fn: Callable[[torch.Tensor, Any], Any],
    num_samples: int,
    batched: Mapping[str, torch.Tensor],
    first: Any = None,
) -> dict[str, torch.Tensor]:
    results = [] if first is None else [first]
    for i in range(len(results), num_samples):
        results.append(fn(torch.tensor(i), _slice(batched, i)))
    if not results:
        return {}
    return {name: torch.stack([r[name] for r in results]) for name in results[0]}


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "no message"
