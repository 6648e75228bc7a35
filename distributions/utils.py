"""Small tensor helpers shared by the distribution families.

These mirror the public helpers of ``torch.distributions.utils`` so code written
against torch keeps working, and add a few conveniences used across families.
"""

from __future__ import annotations

import functools
import math
import struct
import sys
from collections.abc import Callable
from numbers import Number
from typing import Any

import torch

from distributions.tensor_records import TensorRecords, tracing

__all__ = [
    "BroadcastError",
    "broadcast_all",
    "broadcast_shape",
    "clamp_probs",
    "lazy_property",
    "logits_to_probs",
    "probs_to_logits",
    "tril_matrix_to_vec",
    "uniform_draws",
    "vec_to_tril_matrix",
    "euler_constant",
    "normal_draws",
    "number_behind",
    "probs_or_logits",
    "promote_float",
    "safe_xlogy",
    "sum_rightmost",
]

euler_constant = 0.57721566490153286060  # Euler-Mascheroni constant


def promote_float(value: Any, like: Any = None) -> torch.Tensor:
    """Returns ``value`` as a floating tensor, following ``like``'s dtype and device.

    Args:
        value: a number or tensor.
        like: an optional tensor whose floating dtype and device are used for numbers.

    Example:
        >>> promote_float(1).dtype == torch.get_default_dtype()
        True
    """
    if isinstance(value, torch.Tensor):
        return value if value.is_floating_point() else value.to(torch.get_default_dtype())
    if like is not None and like.is_floating_point():
        return torch.tensor(value, dtype=like.dtype, device=like.device)
    return torch.tensor(value, dtype=torch.get_default_dtype())


class BroadcastError(ValueError, RuntimeError):
    """Shapes that do not broadcast (a ``RuntimeError`` too, as torch raises there)."""


def broadcast_shape(*shapes: tuple[int, ...] | torch.Size) -> torch.Size:
    """The broadcast of ``shapes``, as ``torch.broadcast_shapes`` but in plain Python.

    ``torch.broadcast_shapes`` imports sympy (through ``torch.fx``) on its first
    call, which cost 1.7 to 4 s on the first ``icdf`` or ``expand`` of a session.

    Raises:
        BroadcastError: (a ValueError and a RuntimeError) naming the shapes, when
            two sizes differ and neither is 1.

    Example:
        >>> broadcast_shape((3, 1), (4,), ())
        torch.Size([3, 4])
    """
    if torch.compiler.is_compiling() or not all(type(n) is int for s in shapes for n in s):
        # Symbolic sizes under torch.compile: torch's version reasons about them
        # without guarding on data-dependent values (and sympy is loaded there anyway).
        return torch.broadcast_shapes(*shapes)
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for shape in shapes:
        for i, size in enumerate(shape, ndim - len(shape)):
            if size != out[i]:
                if out[i] != 1 and size != 1:
                    raise BroadcastError(
                        f"shapes {[tuple(s) for s in shapes]} do not broadcast: size {size} "
                        f"against {out[i]} at dim {i - ndim}"
                    )
                out[i] = size if out[i] == 1 else out[i]
    return torch.Size(out)


def safe_xlogy(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``x * log(y)``, 0 where ``x == 0``, with a gradient of 0 there too.

    ``torch.xlogy`` has the right value at ``x = 0`` but differentiates ``y``
    as ``x / y``, which is ``0 / 0 = NaN`` at ``y = 0``: a Bernoulli built from
    ``probs = 0`` then scores the certain outcome with a NaN gradient. Here the
    term is a constant 0 wherever its weight ``x`` is 0, so it contributes no
    gradient in ``y``; elsewhere it is ``x * log(y)`` (``-inf`` at ``y = 0``, as
    it should be). NaN in ``y`` still propagates, as in ``torch.xlogy``.

    Example:
        >>> p = torch.tensor(0.0, requires_grad=True)
        >>> safe_xlogy(torch.tensor(0.0), p).backward()
        >>> p.grad.item()
        0.0
    """
    # `y == y` is the not-NaN test in one op, and `where` takes the constants as
    # numbers: 7 kernels instead of 10, the same values and gradients.
    unweighted = (x == 0) & (y == y)
    log_y = torch.log(torch.where(unweighted, 1.0, y))
    return torch.where(unweighted, 0.0, x * log_y)


def broadcast_all(*values: Any) -> tuple[torch.Tensor, ...]:
    """Broadcasts numbers and tensors to one common shape, as tensors.

    Numbers become tensors of the dtype and device of the first tensor argument
    (or the default dtype when there is none). Tensors of equal shape are
    returned untouched, which keeps the common scalar case free of copies.

    Args:
        *values: numbers or tensors.

    Returns:
        A tuple of tensors of one shape.

    Raises:
        ValueError: if an argument is neither a number nor a tensor, naming its
            position and type.

    Example:
        >>> a, b = broadcast_all(torch.zeros(3), 1.0)
        >>> b.shape
        torch.Size([3])
    """
    # One pass finds the first tensor and whether any argument is not one (a
    # comprehension would be a frame of its own per call).
    like = None
    all_tensors = True
    for v in values:
        if isinstance(v, torch.Tensor):
            if like is None:
                like = v
        elif like is None and not isinstance(v, Number):
            raise ValueError(
                f"broadcast_all: expected numbers or tensors, got {type(v).__name__}; "
                "convert the argument with torch.as_tensor(...)"
            )
        else:
            all_tensors = False
    if like is None:
        dtype = torch.get_default_dtype()
        made = []
        for v in values:
            made.append(_number_tensor(v, dtype, None))
        return tuple(made)
    if all_tensors:
        tensors = values  # the common case of tensor parameters: nothing to convert
    else:
        tensors = _with_number_tensors(values, like)
    shape = like.shape
    for t in tensors:
        if t.shape != shape:
            return _broadcast_tensors(values, tensors)
    return tuple(tensors)


def _with_number_tensors(values: tuple[Any, ...], like: torch.Tensor) -> tuple[torch.Tensor, ...]:
    tensors = []
    for i, v in enumerate(values):
        if isinstance(v, torch.Tensor):
            tensors.append(v)
        elif isinstance(v, Number):
            dtype = like.dtype if like.is_floating_point() else torch.get_default_dtype()
            tensors.append(_number_tensor(v, dtype, like.device))
        else:
            raise ValueError(
                f"broadcast_all: argument {i} is a {type(v).__name__}, expected a number "
                "or a tensor; convert it with torch.as_tensor(...)"
            )
    return tuple(tensors)


def _broadcast_tensors(
    values: tuple[Any, ...], tensors: tuple[torch.Tensor, ...]
) -> tuple[torch.Tensor, ...]:
    out = tuple(torch.broadcast_tensors(*tensors))
    if tracing():
        return out
    for v, t, expanded in zip(values, tensors, out):
        if (
            not isinstance(v, torch.Tensor)
            and expanded is not t
            and _FROM_NUMBER.get(t) is not None
        ):
            # Every element of the expanded view is the number (Normal(zeros(10), 1.0)).
            _record_number(expanded, v)
    return out


def _number_tensor(value: Any, dtype: torch.dtype, device: Any) -> torch.Tensor:
    # torch.scalar_tensor skips torch.tensor's parsing of nested sequences: half
    # the cost for the Python numbers most models pass (Normal(0.0, 1.0)).
    if type(value) is float or (type(value) is int and -(2**53) <= value <= 2**53):
        # Parsing an explicit device=None costs a third of the call: leave it out.
        if device is None:
            tensor = torch.scalar_tensor(value, dtype=dtype)
        else:
            tensor = torch.scalar_tensor(value, dtype=dtype, device=device)
        # Reading a CPU scalar back is cheap: no record needed. (Under dynamo
        # the is_cpu read would be a graph node of its own: not asked there.)
        if not torch.compiler.is_compiling() and not tensor.is_cpu:
            _record_number(tensor, value)
        return tensor
    return torch.tensor(float(value) if device is None else value, dtype=dtype, device=device)


# ------------------------------------------------------- tensors from numbers
# The accelerator tensors broadcast_all made from Python numbers -> the number:
# argument validation then tests the number instead of reading the tensor
# back, a host synchronisation. CPU tensors are not recorded: their read costs
# less than the record.
_FROM_NUMBER = TensorRecords(4096)
_FLOAT32 = struct.Struct("f")
_TINY = {torch.float32: torch.finfo(torch.float32).tiny, torch.float64: sys.float_info.min}


def _stored_number(value: float | int, dtype: torch.dtype) -> float | None:
    """``value`` as a tensor of ``dtype`` holds it; None when that is not known exactly."""
    if dtype is torch.float64:
        stored = float(value)
    elif dtype is torch.float32:
        try:  # the same round-to-nearest double -> float cast as torch's
            stored = _FLOAT32.unpack(_FLOAT32.pack(value))[0]
        except OverflowError:  # a finite number rounding to inf
            return None
    else:
        return None
    # Subnormals: a flush-to-zero mode (torch.set_flush_denormal) may store 0.
    return None if 0.0 < abs(stored) < _TINY[dtype] else stored


def _record_number(tensor: torch.Tensor, value: float | int) -> None:
    _FROM_NUMBER.put(tensor, value)


def number_behind(tensor: torch.Tensor) -> float | None:
    """The Python number :func:`broadcast_all` made ``tensor`` from, while it is unchanged.

    Returns:
        The number as ``tensor`` stores it (rounded to its dtype), or None when
        ``tensor`` was not made from a number here, or was changed in place since.

    Only tensors off the CPU are recorded (reading a CPU scalar back is cheap).

    Example:
        >>> _, scale = broadcast_all(torch.zeros(3, device="meta"), 0.1)
        >>> number_behind(scale) == torch.tensor(0.1).item()  # 0.1 rounded to float32
        True
        >>> _ = scale.mul_(2)  # an in-place change forgets it
        >>> number_behind(scale) is None
        True
    """
    number = _FROM_NUMBER.get(tensor)
    return None if number is None else _stored_number(number, tensor.dtype)


def clamp_probs(probs: torch.Tensor) -> torch.Tensor:
    """Clamps probabilities into the open interval (0, 1) by the dtype's resolution.

    Example:
        >>> clamp_probs(torch.tensor([0.0, 1.0])).gt(0).all().item()
        True
    """
    eps = torch.finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def logits_to_probs(logits: torch.Tensor, is_binary: bool = False) -> torch.Tensor:
    """Converts logits to probabilities: sigmoid when binary, softmax over the last dim.

    Example:
        >>> logits_to_probs(torch.zeros(2)).tolist()
        [0.5, 0.5]
    """
    if is_binary:
        return torch.sigmoid(logits)
    return torch.softmax(logits, dim=-1)


def probs_to_logits(probs: torch.Tensor, is_binary: bool = False) -> torch.Tensor:
    """Converts probabilities to logits (log-odds when binary, log-probs otherwise).

    Probabilities are clamped first so that 0 and 1 map to large finite logits.

    Example:
        >>> round(probs_to_logits(torch.tensor(0.5), is_binary=True).item(), 6)
        0.0
    """
    clamped = clamp_probs(probs)
    if is_binary:
        return torch.log(clamped) - torch.log1p(-clamped)
    return torch.log(clamped)


class lazy_property:
    """A property computed once per instance on first access, then stored.

    Accessed on the class it returns itself, so introspection (and
    ``Distribution._check_args``) can tell a lazily derived parameter apart.

    Example:
        >>> class A:
        ...     @lazy_property
        ...     def x(self):
        ...         return 3
        >>> A().x
        3
    """

    def __init__(self, wrapped: Callable[[Any], Any]) -> None:
        self.wrapped = wrapped
        functools.update_wrapper(self, wrapped)  # type: ignore[arg-type]  # copies __doc__ and __name__ onto the descriptor

    def __get__(self, instance: Any, obj_type: type | None = None) -> Any:
        if instance is None:
            return self
        with torch.enable_grad():
            value = self.wrapped(instance)
        instance.__dict__[self.wrapped.__name__] = value
        return value


def tril_matrix_to_vec(mat: torch.Tensor, diag: int = 0) -> torch.Tensor:
    """Flattens the lower triangle (offset ``diag``) of the last two dims, row by row.

    Example:
        >>> tril_matrix_to_vec(torch.tensor([[1.0, 0.0], [2.0, 3.0]])).tolist()
        [1.0, 2.0, 3.0]
    """
    n = mat.shape[-1]
    if not torch._C._get_tracing_state() and (diag < -n or diag >= n):
        raise ValueError(f"tril_matrix_to_vec: diag={diag} is out of range for a {n}x{n} matrix")
    rows, cols = torch.tril_indices(n, n, offset=diag, device=mat.device)
    return mat[..., rows, cols]


def _tril_count(n: int, diag: int) -> int:
    """Entries on or below diagonal ``diag`` of an ``n x n`` matrix, clipped to 0..n per row."""
    return sum(min(max(i + diag + 1, 0), n) for i in range(n))


def vec_to_tril_matrix(vec: torch.Tensor, diag: int = 0) -> torch.Tensor:
    """Inverse of :func:`tril_matrix_to_vec`: fills a lower-triangular matrix row by row.

    Every ``diag`` that :func:`tril_matrix_to_vec` accepts round-trips, including
    ``diag > 0`` (part of the upper triangle) and ``diag = -n`` (no entries).

    Args:
        vec: tensor whose last dim holds the entries on or below diagonal ``diag``.
        diag: the diagonal offset used when flattening.

    Raises:
        ValueError: when the last dim is not such a count for any matrix size.

    Example:
        >>> vec_to_tril_matrix(torch.tensor([1.0, 2.0, 3.0])).tolist()
        [[1.0, 0.0], [2.0, 3.0]]
        >>> vec_to_tril_matrix(torch.tensor([1.0, 2.0, 3.0]), diag=-1).shape
        torch.Size([3, 3])
    """
    m = vec.shape[-1]
    # The count is quadratic in n (torch's closed form); rounding is then checked exactly.
    b = 1 + 2 * diag
    n = round((-b + math.sqrt(b * b + 8 * m + 4 * abs(diag) * (diag + 1))) / 2)
    if n < 0 or _tril_count(n, diag) != m:
        raise ValueError(
            f"vec_to_tril_matrix: last dim {m} is not the number of entries on or below "
            f"diagonal {diag} of any square matrix; pass the output of "
            f"tril_matrix_to_vec(mat, diag={diag})"
        )
    mat = vec.new_zeros(vec.shape[:-1] + (n, n))
    rows, cols = torch.tril_indices(n, n, offset=diag, device=vec.device)
    mat[..., rows, cols] = vec
    return mat


def sum_rightmost(value: Any, dim: int) -> Any:
    """Sums out the ``dim`` rightmost dims of ``value`` (a no-op for ``dim == 0``).

    Example:
        >>> sum_rightmost(torch.ones(2, 3), 1).tolist()
        [3.0, 3.0]
    """
    if dim == 0 or not isinstance(value, torch.Tensor):
        return value
    # A sum over the dims themselves (a reshape to (..., -1) is ambiguous, and
    # fails, when another dim is 0: a zero-size batch).
    return value.sum(-1) if dim == 1 else value.sum(tuple(range(-dim, 0)))


def uniform_draws(like: torch.Tensor, shape: tuple[int, ...] | torch.Size) -> torch.Tensor:
    """Standard uniform draws on ``[0, 1)`` of ``shape``, in ``like``'s dtype and device.

    One draw of the batch (``shape == like.shape``, the common case in models)
    goes through ``torch.rand_like``, which skips the dtype and device parsing
    of ``torch.rand``; both are out of place, so torch.vmap can batch the
    randomness.

    Example:
        >>> uniform_draws(torch.zeros(2, dtype=torch.float64), torch.Size([3, 2])).dtype
        torch.float64
    """
    if like.shape == shape:
        return torch.rand_like(like)
    return torch.rand(shape, dtype=like.dtype, device=like.device)


def normal_draws(like: torch.Tensor, shape: tuple[int, ...] | torch.Size) -> torch.Tensor:
    """Standard normal draws of ``shape`` in ``like``'s dtype and device, as :func:`uniform_draws`.

    Example:
        >>> normal_draws(torch.zeros(2), torch.Size([2])).shape
        torch.Size([2])
    """
    if like.shape == shape:
        return torch.randn_like(like)
    return torch.randn(shape, dtype=like.dtype, device=like.device)


def probs_or_logits(owner: str, probs: Any, logits: Any) -> tuple[str, Any]:
    """``("probs", probs)`` or ``("logits", logits)``: the one of the two that was given.

    Raises:
        ValueError: naming ``owner`` and what was given, unless exactly one is.

    Example:
        >>> probs_or_logits("Bernoulli", None, torch.tensor(0.0))[0]
        'logits'
    """
    if (probs is None) == (logits is None):
        given = "both" if probs is not None else "neither"
        raise ValueError(
            f"{owner}: pass exactly one of probs or logits (got {given}); probs are "
            "probabilities, logits their log-odds (or unnormalized log-probabilities)"
        )
    return ("probs", probs) if probs is not None else ("logits", logits)
