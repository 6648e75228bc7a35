"""Plates: conditional independence, vectorized over a tensor dim or iterated in Python.

Inside ``with plate("data", N):`` the sites are independent along one batch
dim of size ``N`` (vectorized); ``for i in plate("data", N):`` declares the
same independence for a Python loop (sequential). Subsampling draws
``subsample_size`` of the ``size`` indices and scales log-probabilities by
``size / subsample_size``, the unbiased estimate of the full-data sum used by
stochastic variational inference (Hoffman et al. 2013, "Stochastic
Variational Inference", JMLR 14).

Every plate records a :class:`CondIndepStackFrame` on the sites it encloses,
which is how inference code learns the plates of a site.
"""

from __future__ import annotations

import contextlib
import numbers
import threading
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import torch

from ppl import validation
from ppl.plate_checks import check_local_param
from ppl.runtime import Message, Messenger, _current_stack, apply_stack

__all__ = [
    "CondIndepStackFrame",
    "plate",
    "plate_stack",
    "broadcast_to_frame",
    "subsample_indices",
]


class CondIndepStackFrame(NamedTuple):
    """One enclosing plate of a site, as recorded in ``msg.cond_indep_stack``.

    An immutable named tuple, as Pyro's frame is: built, compared and hashed
    in C, which matters because every site records its frames and the ELBO's
    structure checks compare them on every step.

    Attributes:
        name: the plate name.
        dim: the batch dim (negative, counted from the right of the batch
            shape) of a vectorized plate; ``None`` for a sequential plate.
        size: the full size of the plate.
        subsample_size: how many indices this run uses (``size`` without
            subsampling); the tensor dim has this size.
        counter: the iteration number of a sequential plate, ``None`` when
            vectorized; each iteration is its own frame.

    Example:
        >>> f = CondIndepStackFrame("data", -1, 100, 10)
        >>> f.vectorized, f.scale
        (True, 10.0)
    """

    name: str
    dim: int | None
    size: int
    subsample_size: int
    counter: int | None = None

    @property
    def vectorized(self) -> bool:
        """Whether the plate is a tensor dim (``True``) or a Python loop."""
        return self.dim is not None

    @property
    def scale(self) -> float:
        """The subsampling factor ``size / subsample_size``."""
        return self.size / self.subsample_size


class _ActiveDims(threading.local):
    # Dims held by the vectorized plates currently entered, per thread (like
    # the handler stack): dim -> plate name.
    def __init__(self) -> None:
        self.dims: dict[int | None, str] = {}


_ACTIVE = _ActiveDims()


def _allocate_dim(name: str, dim: int | None) -> int | None:
    _ACTIVE_DIMS = _ACTIVE.dims
    if name in _ACTIVE_DIMS.values():
        other = next(d for d, n in _ACTIVE_DIMS.items() if n == name)
        raise ValueError(
            f"plate '{name}' is already active at dim {other}; a plate cannot be nested in "
            "itself: give the inner plate another name"
        )
    if dim is None:
        dim = -1
        while dim in _ACTIVE_DIMS:
            dim -= 1
    elif dim in _ACTIVE_DIMS:
        raise validation.plate_dim_clash_error(name, dim, _ACTIVE_DIMS[dim])
    _ACTIVE_DIMS[dim] = name
    return dim


def subsample_indices(
    size: int, subsample_size: int, dim: int | None = None, device: torch.device | str | None = None
) -> torch.Tensor:
    """Draws the indices a plate uses: a random subset, or all of them in order.

    Args:
        size: the full size.
        subsample_size: how many distinct indices to draw (``size`` for all).
        dim: the requested dim; recorded in the trace for consistency checks,
            not used here.
        device: where the indices live (the default device when ``None``).

    Returns:
        A long tensor of ``subsample_size`` indices.

    Example:
        >>> subsample_indices(4, 4).tolist()
        [0, 1, 2, 3]
    """
    if subsample_size >= size:
        return torch.arange(size, device=device)
    return torch.randperm(size, device=device)[:subsample_size]


def broadcast_to_frame(msg: Message, frame: CondIndepStackFrame) -> None:
    """Expands a sample site's distribution so its batch shape covers ``frame``'s dim.

    A batch dim of size 1 (or a missing one) at the plate's dim is expanded to
    the plate's size; any other size is an error naming the site and plate.

    Args:
        msg: a sample :class:`~ppl.runtime.Message`; ``msg.fn`` is replaced.
        frame: a vectorized :class:`CondIndepStackFrame`.

    Raises:
        ValueError: when the batch shape has another size at the plate's dim.
    """
    fn = msg.fn
    batch_shape = getattr(fn, "batch_shape", None)
    if batch_shape is None:
        return  # not a distribution: check_message reports it
    dim, size = frame.dim, frame.subsample_size
    assert dim is not None  # only a vectorized plate broadcasts its sites
    if len(batch_shape) >= -dim:
        actual = batch_shape[dim]
        if actual == size:
            return
        if actual != 1:
            raise validation.plate_shape_error(msg.name, frame, batch_shape)
        target = list(batch_shape)
    else:
        target = [1] * (-dim - len(batch_shape)) + list(batch_shape)
    target[dim] = size
    msg.fn = fn.expand(torch.Size(target))


class _PlateFrameMessenger(Messenger):
    # Adds one frame (and the subsampling scale) to the sites it encloses.

    def __init__(self, frame: CondIndepStackFrame) -> None:
        super().__init__()
        self.frame = frame
        self._scale = frame.scale

    def _process_sample(self, msg: Message) -> None:
        msg.cond_indep_stack = (self.frame,) + msg.cond_indep_stack
        if self._scale != 1.0:
            msg.scale = self._scale * msg.scale
        if self.frame.dim is not None and not msg.infer.get("_deterministic"):
            broadcast_to_frame(msg, self.frame)

    def _process_param(self, msg: Message) -> None:
        msg.cond_indep_stack = (self.frame,) + msg.cond_indep_stack


class plate(_PlateFrameMessenger):
    """Declares conditional independence over ``size`` elements.

    Used with ``with``, the plate is vectorized: it takes a batch dim (``dim``
    or the rightmost free one), broadcasts the distributions of the sample
    sites inside to it, and yields the indices in use. Used with ``for``, it is
    sequential and yields one index per iteration. With subsampling, the
    log-probabilities inside are scaled by ``size / subsample_size``, and
    parameters created with ``event_dim`` are indexed along the plate's dim.

    The indices are drawn once, when the plate is created (as a ``"plate"``
    message, so ``trace`` records them and ``replay`` reuses a guide's), and
    kept when the same plate object is entered again.

    Args:
        name: the plate name, unique among the plates of a model.
        size: the number of conditionally independent elements. It may be
            left out when ``subsample`` is given: the plate then has
            ``len(subsample)`` elements and no scaling (Pyro refuses this
            form; pass ``size`` to scale a minibatch up to the full data).
        subsample_size: how many of them to use in this run (all by
            default; ``len(subsample)`` when ``subsample`` is given).
        subsample: explicit indices to use instead of drawing them. Under
            ``replay`` (as in an ELBO) the guide's indices for the plate win,
            so give an autoguide this plate through ``create_plates``.
        dim: the batch dim to use (negative); ``None`` picks the rightmost
            dim no enclosing plate holds.
        use_cuda: Pyro's older spelling of ``device``: ``True`` draws the
            indices on ``"cuda"``, ``False`` on ``"cpu"``.
        device: the device of the drawn indices (the default device when
            ``None``); explicit ``subsample`` indices stay where they are.

    Raises:
        ValueError: on a bad size or subsample size, neither size nor
            subsample, ``use_cuda`` contradicting ``device``, a dim another
            active plate holds, or a plate nested inside itself.

    Example:
        >>> import ppl
        >>> from distributions import Normal
        >>> with ppl.plate("data", 5):
        ...     x = ppl.sample("x", Normal(0.0, 1.0))
        >>> x.shape
        torch.Size([5])
        >>> [i for i in ppl.plate("loop", 3)]
        [0, 1, 2]
        >>> with ppl.plate("batch", subsample=torch.tensor([4, 7])) as idx:
        ...     ppl.sample("y", Normal(0.0, 1.0)).shape
        torch.Size([2])
    """

    def __init__(
        self,
        name: str,
        size: int | None = None,
        subsample_size: int | None = None,
        subsample: torch.Tensor | Sequence[int] | None = None,
        dim: int | None = None,
        use_cuda: bool | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        device = _resolve_device(name, use_cuda, device)
        if size is None:
            size = _size_of_subsample(name, subsample)
        size = _as_size(size)
        if subsample_size is not None:
            subsample_size = _as_size(subsample_size)
        _check_arguments(name, size, subsample_size, subsample, dim)
        self.size = size
        self.dim = dim
        if subsample is None and subsample_size is None:
            subsample_size = size
        if _current_stack():
            msg = Message(
                type="plate",
                name=name,
                fn=subsample_indices,
                args=(size, subsample_size),
                kwargs={"dim": dim, "device": device},
                value=subsample,
            )
            apply_stack(msg)
            name, subsample = msg.name, msg.value
        elif subsample is None:
            # Without a subsample, subsample_size was set to size above.
            subsample = subsample_indices(size, subsample_size, device=device)  # type: ignore[arg-type]
        self.name = name
        self.indices = torch.as_tensor(subsample)
        self.subsample_size = int(self.indices.shape[0])
        if self.subsample_size > size:
            raise ValueError(
                f"plate '{name}': {self.subsample_size} subsample indices for a plate of size "
                f"{size}; pass at most size indices"
            )
        super().__init__(CondIndepStackFrame(name, dim, size, self.subsample_size))

    def __enter__(self) -> torch.Tensor:
        dim = _allocate_dim(self.name, self.dim)
        self.frame = CondIndepStackFrame(self.name, dim, self.size, self.subsample_size)
        super().__enter__()
        return self.indices

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        super().__exit__(exc_type, exc_value, traceback)
        _ACTIVE.dims.pop(self.frame.dim, None)

    def __iter__(self) -> Iterator[int]:
        for counter, index in enumerate(self.indices.tolist()):
            frame = CondIndepStackFrame(
                self.name, None, self.size, self.subsample_size, counter=counter
            )
            with _PlateFrameMessenger(frame):
                yield index

    def __len__(self) -> int:
        return self.subsample_size

    def _postprocess_param(self, msg: Message) -> None:
        # A local parameter (event_dim given) spans the full plate; the run
        # uses only its subsample, so index it along the plate's dim.
        if validation.is_validation_enabled():
            check_local_param(msg, self.frame)
        event_dim = msg.kwargs.get("event_dim")
        if event_dim is None or self.subsample_size == self.size or self.frame.dim is None:
            return
        dim = self.frame.dim - event_dim
        value = msg.value
        if value.dim() >= -dim and value.shape[dim] == self.size:
            msg.value = value.index_select(dim, self.indices.to(value.device))

    def __repr__(self) -> str:
        return f"plate({self.name!r}, size={self.size}, subsample_size={self.subsample_size})"


@contextlib.contextmanager
def plate_stack(prefix: str, sizes: Sequence[int], rightmost_dim: int = -1) -> Iterator[None]:
    """Enters one vectorized plate per size, on contiguous dims ending at ``rightmost_dim``.

    The plates are named ``f"{prefix}_{i}"`` with ``i`` counted from the
    right: for ``sizes=(A, B)`` plate ``prefix_0`` has size ``B`` at
    ``rightmost_dim`` and ``prefix_1`` size ``A`` one dim to its left, so the
    sites inside broadcast to the batch shape ``sizes`` (Pyro's
    ``plate_stack``).

    Args:
        prefix: the name prefix of the plates.
        sizes: the plate sizes, leftmost first (a ``torch.Size`` works).
        rightmost_dim: the dim of the rightmost plate (negative).

    Raises:
        ValueError: when ``rightmost_dim`` is not a negative int.

    Example:
        >>> import ppl
        >>> from distributions import Normal
        >>> with plate_stack("cell", (2, 3)):
        ...     ppl.sample("x", Normal(0.0, 1.0)).shape
        torch.Size([2, 3])
    """
    if isinstance(rightmost_dim, bool) or not isinstance(rightmost_dim, int) or rightmost_dim >= 0:
        raise ValueError(
            f"plate_stack '{prefix}': rightmost_dim must be a negative int counted from the "
            f"right (e.g. -1), got {rightmost_dim!r}"
        )
    with contextlib.ExitStack() as stack:
        for i, size in enumerate(reversed(tuple(sizes))):
            stack.enter_context(plate(f"{prefix}_{i}", size, dim=rightmost_dim - i))
        yield


def _size_of_subsample(name: str, subsample: Any) -> int:
    # Without a size the subsample is the whole plate (Pyro would refuse it).
    if subsample is None:
        raise ValueError(
            f"plate '{name}': no size given; pass size=N (the number of independent "
            "elements), or subsample=indices to use exactly those elements"
        )
    return len(subsample)


def _resolve_device(
    name: str, use_cuda: bool | None, device: torch.device | str | None
) -> torch.device | str | None:
    if use_cuda is None:
        return device
    if device is None:
        return "cuda" if use_cuda else "cpu"
    if bool(use_cuda) != (torch.device(device).type == "cuda"):
        raise ValueError(
            f"plate '{name}': use_cuda={use_cuda} contradicts device={device!r}; "
            "pass only device= (use_cuda is its older spelling)"
        )
    return device


def _as_size(size: Any) -> Any:
    # Sizes often arrive as `tensor.shape[0]`, numpy ints or 0-dim integer tensors.
    if type(size) is int:
        return size  # the common case, without the abstract-class check below
    if isinstance(size, torch.Tensor) and size.numel() == 1 and not size.is_floating_point():
        return int(size)
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        return int(size)
    return size


def _check_arguments(
    name: str, size: Any, subsample_size: int | None, subsample: Any, dim: int | None
) -> None:
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"plate '{name}': size must be a positive int, got {size!r}")
    if subsample_size is not None and not 1 <= subsample_size <= size:
        raise ValueError(
            f"plate '{name}': subsample_size must be between 1 and size={size}, "
            f"got {subsample_size!r}"
        )
    if dim is not None and (not isinstance(dim, int) or dim >= 0):
        raise ValueError(
            f"plate '{name}': dim must be a negative int counted from the right "
            f"(e.g. -1), got {dim!r}"
        )
    if subsample is not None and subsample_size is not None and len(subsample) != subsample_size:
        raise ValueError(
            f"plate '{name}': {len(subsample)} subsample indices but subsample_size="
            f"{subsample_size}; pass one or the other"
        )
