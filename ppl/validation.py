"""The runtime's error catalogue: checks that name the site, the plate and the fix.

Validation is on by default. Turning it off with :func:`enable_validation`
also turns off the distributions' argument checks, and removes every check in
this module from the per-site path (one boolean test remains).

The observed-value rules (type, event shape, broadcast, support) are the
distributions' own (:mod:`distributions.validation`); this module adds the
site's name to their messages and the two rules only a site has (the dtype
of an observation, and a broadcast that counts observations several times).

Each error here has a test matching its text (``tests/ppl/test_validation.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch

from distributions import Distribution, ExpandedDistribution, Independent, MaskedDistribution
from distributions import validation as dist_validation
from distributions.constraints import Constraint, is_dependent
from distributions.tensor_records import TensorRecords
from distributions.torch_constraints import as_constraint
from distributions.violations import describe_offenders

if TYPE_CHECKING:  # ppl.runtime and ppl.plate import this module
    from ppl.plate import CondIndepStackFrame
    from ppl.runtime import Message

__all__ = [
    "enable_validation",
    "is_validation_enabled",
    "validation_enabled",
    "check_message",
    "check_observation",
    "checks_values",
    "mark_drawn",
    "describe_offenders",
    "plate_shape_error",
    "duplicate_site_error",
    "plate_dim_clash_error",
    "plate_reuse_error",
    "param_constraint_error",
    "attach_shapes",
]

_ENABLED = [True]


def enable_validation(is_validate: bool = True) -> None:
    """Turns the runtime's site checks and the distributions' argument checks on or off.

    Args:
        is_validate: ``True`` to validate (the default state), ``False`` to skip.

    Example:
        >>> enable_validation(False)
        >>> is_validation_enabled()
        False
        >>> enable_validation(True)
    """
    if is_validate not in (True, False):
        raise ValueError(f"enable_validation expects True or False, got {is_validate!r}")
    _ENABLED[0] = is_validate
    Distribution.set_default_validate_args(is_validate)


def is_validation_enabled() -> bool:
    """Whether validation is on.

    Example:
        >>> is_validation_enabled()
        True
    """
    return _ENABLED[0]


@contextmanager
def validation_enabled(is_validate: bool = True) -> Iterator[None]:
    """Sets validation on or off inside a ``with`` block, restoring it after.

    Example:
        >>> with validation_enabled(False):
        ...     is_validation_enabled()
        False
    """
    old_runtime, old_dist = _ENABLED[0], Distribution._validate_args
    enable_validation(is_validate)
    try:
        yield
    finally:
        _ENABLED[0] = old_runtime
        Distribution.set_default_validate_args(old_dist)


def check_message(msg: Message) -> None:
    """Checks a message after the handlers processed it, before its value is drawn.

    Sample sites must carry a distribution, and observed values must be
    scoreable by it (see :func:`check_observation`). Sites whose log-probability
    is masked out entirely (``deterministic``) are not scored and not checked.
    Whether every batch dim is a plate's is checked where model and guide are
    scored (:func:`ppl.plate_checks.check_trace_plates`), as in Pyro.

    Raises:
        TypeError: when a sample site's ``fn`` is not a distribution.
        ValueError: from :func:`check_observation`.
    """
    if msg.type != "sample":
        return
    fn = msg.fn
    # One C-level test for the library's distributions; the duck-typed test
    # (which calls the batch_shape property) for anything else.
    if not isinstance(fn, Distribution) and not (
        hasattr(fn, "log_prob") and hasattr(fn, "batch_shape")
    ):
        raise TypeError(
            f"sample site '{msg.name}': expected a distribution, got {type(fn).__name__}; "
            f"write ppl.sample('{msg.name}', SomeDistribution(...))"
        )
    if msg.is_observed and msg.mask is not False:
        if torch._C._is_torch_function_mode_enabled():
            # Checks only decide whether to raise: below torch-function modes, a
            # tracing mode neither pays for nor sees their reads.
            with torch._C.DisableTorchFunction():
                check_observation(msg.name, fn, msg.value, msg.kwargs.get("sample_shape", ()))
        else:
            check_observation(msg.name, fn, msg.value, msg.kwargs.get("sample_shape", ()))


def checks_values(fn: Any) -> bool:
    """Whether an observed site of ``fn`` has its value checked (dtype and support).

    A distribution built with ``validate_args=False`` opts out, as in Pyro's VAE
    idiom ``Bernoulli(loc_img, validate_args=False).to_event(1)`` scoring pixel
    intensities in [0, 1]. The flag is read through the wrappers ``.to_event``,
    ``.mask`` and ``.expand`` build (``Independent`` with its own
    ``validate_args=False`` opts out too). Shape checks stay on: they catch
    program errors, not data outside a support.

    Example:
        >>> import torch
        >>> from distributions import Bernoulli
        >>> d = Bernoulli(torch.full((3,), 0.5), validate_args=False).to_event(1)
        >>> checks_values(d), checks_values(Bernoulli(0.5))
        (False, True)
    """
    while True:
        if isinstance(fn, (MaskedDistribution, ExpandedDistribution)):
            fn = fn.base_dist  # built with validate_args=False whatever the base says
            continue
        if not getattr(fn, "_validate_args", True):
            return False
        if not isinstance(fn, Independent):
            return True
        fn = fn.base_dist


def check_observation(name: str, fn: Distribution, value: object, sample_shape: tuple = ()) -> None:
    """Checks an observed value against its distribution: type, dtype, shape, support.

    The type, event-shape, broadcast and support rules are the distributions'
    own (:mod:`distributions.validation`), run here with the site named in
    their messages; a value found in the support is remembered, so its
    ``log_prob`` does not check it again. Two rules are the runtime's: the
    dtype (an integer tensor observed by a continuous distribution), and the
    silent broadcast that makes a log-probability larger than both the value
    and the distribution (a value of shape (N, 1) scored by a distribution of
    batch shape (N,) gives an (N, N) log-prob). The dtype and support checks
    are skipped for a distribution built with ``validate_args=False`` (see
    :func:`checks_values`).

    Args:
        name: the site name, used in the messages.
        fn: the site's distribution (already broadcast over its plates).
        value: the observed value.
        sample_shape: the site's ``sample_shape``, prepended to the batch shape.

    Raises:
        ValueError: naming the site, the expected and actual shapes or dtype,
            and the fix.

    Example:
        >>> import torch
        >>> from distributions import Normal
        >>> check_observation("y", Normal(0.0, 1.0), torch.tensor([0.5, float("nan")]))
        ...     # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: sample site 'y': obs of shape (2,) is outside the support ...: 1 of 2 ...
    """
    if not isinstance(value, torch.Tensor):
        raise dist_validation.not_a_tensor_error(_site_subject(name, _innermost(fn)), value)
    base = _innermost(fn)
    check_values = checks_values(fn)
    # What the checks below read, besides the elements: a tensor unchanged since
    # it passed with the same of all of these passes again (the same data
    # observed every step), without the checks' reads and messages.
    reads = (fn.batch_shape, fn.event_shape, tuple(sample_shape), value.shape, value.dtype)
    # Read once: a support built per instance (Uniform's) is a new object each read.
    raw_support = base.support
    if _passed_before(value, raw_support, check_values, reads):
        return
    subject = _site_subject(name, base)
    # The support of the distribution under the shape-only wrappers: the one its
    # log_prob checks, so the pass recorded here is found there.
    support = as_constraint(raw_support, name=f"support of sample site '{name}'")
    if check_values:
        _check_dtype(name, type(fn).__name__, support, value)
    batch_shape = torch.Size(sample_shape) + fn.batch_shape
    log_prob_shape = dist_validation.check_sample_shape(
        fn, value, type(fn).__name__, subject=subject, batch_shape=batch_shape
    )
    value_batch = value.shape[: value.dim() - len(fn.event_shape)]
    if log_prob_shape != value_batch and log_prob_shape != batch_shape:
        raise ValueError(
            f"sample site '{name}': obs batch shape {tuple(value_batch)} and the batch shape "
            f"{tuple(batch_shape)} of {type(fn).__name__} broadcast to a larger log_prob shape "
            f"{tuple(log_prob_shape)}, counting each observation several times; make the "
            f"shapes equal (e.g. obs.reshape({tuple(batch_shape)}) or obs.squeeze(-1))"
        )
    if check_values and support is not None and not is_dependent(support):
        dist_validation.check_support(fn, support, value, subject)
    _remember_pass(value, raw_support, check_values, reads)


# Observed values that passed check_observation -> (support, check_values,
# reads) of that check. The support is compared by identity (a support built
# per instance, as Uniform's, never matches, so it is checked every time).
_PASSED = TensorRecords(1024)


def _passed_before(value: torch.Tensor, support: Any, check_values: bool, reads: tuple) -> bool:
    entry = _PASSED.get(value)
    return (
        entry is not None and entry[0] is support and entry[1] == check_values and entry[2] == reads
    )


def _remember_pass(value: torch.Tensor, support: Any, check_values: bool, reads: tuple) -> None:
    _PASSED.put(value, (support, check_values, reads))


def mark_drawn(fn: Distribution, value: torch.Tensor) -> None:
    """Records a draw of ``fn`` as inside its support, so scoring it does not check it again.

    The support recorded is that of the distribution under the shape-only
    wrappers (``.to_event``, ``.expand``, ``.mask``), whose ``log_prob`` checks it.
    A model site replayed with this value and the same support (``real`` for
    both a Normal guide and a Normal prior, say) is not checked either.

    Example:
        >>> from distributions import Normal, constraints
        >>> from distributions.validation import is_known_valid
        >>> d = Normal(torch.zeros(2), 1.0).to_event(1)
        >>> x = d.rsample()
        >>> mark_drawn(d, x)
        >>> is_known_valid(x, constraints.real)
        True
    """
    support = getattr(_innermost(fn), "support", None)
    if isinstance(support, Constraint) and not is_dependent(support):
        dist_validation.mark_valid(value, support, transient=True)


def _innermost(fn: Any) -> Any:
    # Under .to_event, .expand and .mask: whether every element is in the support
    # does not depend on how dims are grouped, broadcast or masked.
    while isinstance(fn, (Independent, ExpandedDistribution, MaskedDistribution)):
        fn = fn.base_dist
    return fn


def _site_subject(name: str, fn: Any) -> dist_validation.Subject:
    return dist_validation.Subject(
        f"sample site '{name}': ",
        "obs",
        "Observe values in the support (or build the distribution with validate_args=False "
        "to score them anyway).",
        f" of {type(fn).__name__}",
        list_offenders=True,
    )


def _check_dtype(name: str, dist_name: str, support: Constraint, value: torch.Tensor) -> None:
    if value.is_complex() or (
        not getattr(support, "is_discrete", False) and not value.is_floating_point()
    ):
        raise ValueError(
            f"sample site '{name}': obs has dtype {value.dtype} but {dist_name} has a "
            f"continuous support ({support}); pass a floating tensor, e.g. obs.float()"
        )


def plate_shape_error(
    name: str, frame: CondIndepStackFrame, batch_shape: tuple[int, ...] | torch.Size
) -> ValueError:
    """The error for a site whose batch shape disagrees with an enclosing plate.

    Args:
        name: the site name.
        frame: the plate's :class:`~ppl.plate.CondIndepStackFrame`.
        batch_shape: the site distribution's batch shape.

    Returns:
        A ``ValueError`` to raise.
    """
    actual = batch_shape[frame.dim]  # type: ignore[index]  # a plate in a site's stack has its dim allocated
    subsampled = (
        f" (a subsample of {frame.subsample_size} out of {frame.size}; index the "
        f"parameters with the plate's subsample indices)"
        if frame.subsample_size != frame.size
        else ""
    )
    return ValueError(
        f"sample site '{name}': batch shape {tuple(batch_shape)} does not broadcast with "
        f"plate '{frame.name}' at dim {frame.dim}: the plate has size "
        f"{frame.subsample_size}{subsampled} but the batch has size {actual} there. If that "
        f"dim is part of one draw, use .to_event(); otherwise put the site in a plate of "
        f"size {actual} at dim {frame.dim} (or give plate '{frame.name}' another dim=)"
    )


def duplicate_site_error(name: str, old_type: str, new_type: str) -> RuntimeError:
    """The error for a second site with a name already in the trace.

    Returns:
        A ``RuntimeError`` to raise.
    """
    if old_type != new_type:
        return RuntimeError(
            f"site name '{name}' is used by a {old_type} site and a {new_type} site; "
            "give them different names"
        )
    return RuntimeError(
        f"Duplicate site name '{name}': a {new_type} site with this name is already in the "
        f"trace. Site names must be unique within one model run: give each site its own "
        f"name (e.g. f'{name}_{{i}}' in a loop) or use a sequential ppl.plate"
    )


def plate_dim_clash_error(name: str, dim: int, other: str) -> ValueError:
    """The error for a plate asking for a dim another active plate holds.

    Returns:
        A ``ValueError`` to raise.
    """
    return ValueError(
        f"plate '{name}' asks for dim {dim}, which the enclosing plate '{other}' already "
        f"uses; give plate '{name}' another dim= (e.g. {dim - 1}) or leave dim=None to "
        "allocate one automatically"
    )


def plate_reuse_error(name: str, old: tuple[Any, Any], new: tuple[Any, Any]) -> ValueError:
    """The error for a plate name reused with another size or dim in one model run.

    Args:
        name: the plate name.
        old: ``(size, dim)`` when the name was first used.
        new: ``(size, dim)`` now.

    Returns:
        A ``ValueError`` to raise.
    """
    return ValueError(
        f"plate '{name}' was created with size {old[0]} and dim {old[1]} earlier in this "
        f"model run and now with size {new[0]} and dim {new[1]}; a plate name must keep its "
        "size and dim: reuse the same plate, or give the new one another name"
    )


def param_constraint_error(
    name: str, constraint: Constraint, value: torch.Tensor, valid: Any
) -> ValueError:
    """The error for a parameter initialized outside its constraint.

    Returns:
        A ``ValueError`` to raise.
    """
    return ValueError(
        f"param '{name}': the initial value of shape {tuple(value.shape)} is outside the "
        f"constraint {constraint}: {describe_offenders(value, constraint)}; pass an initial "
        f"value inside the constraint (or a different constraint=)"
    )


def attach_shapes(exc: BaseException, table: str) -> BaseException:
    """Returns ``exc`` with the trace's shape table added to its message.

    Built-in exception types carrying one message are rebuilt with the table
    appended (so ``str(exc)`` shows it); others keep their type and attributes
    and get the table as a note. An exception is annotated only once, so nested
    traces do not repeat the table.

    Args:
        exc: the exception raised inside a traced model.
        table: the text of :meth:`ppl.trace_struct.Trace.format_shapes`.

    Returns:
        The exception to raise (``exc`` itself or a rebuilt one).
    """
    if getattr(exc, "_ppl_shapes_attached", False):
        return exc
    cls = type(exc)
    rebuildable = (
        cls.__module__ == "builtins"
        and cls is not KeyError
        and len(exc.args) == 1
        and isinstance(exc.args[0], str)
    )
    if rebuildable:
        new = cls(f"{exc.args[0]}\n{table}")
        new = new.with_traceback(exc.__traceback__)
    else:
        new = exc
        if hasattr(exc, "add_note"):
            exc.add_note(table)
    new._ppl_shapes_attached = True  # type: ignore[attr-defined]  # a marker: annotate once
    return new
