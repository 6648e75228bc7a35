"""The runtime's error catalogue: checks that name the site, the plate and the fix.

Validation is on by default. Turning it off with :func:`enable_validation`
also turns off the distributions' argument checks, and removes every check in
this module from the per-site path (one boolean test remains).

Each error here has a test matching its text (``tests/ppl/test_validation.py``).
"""

from contextlib import contextmanager

import torch

from distributions import Distribution, ExpandedDistribution, Independent, MaskedDistribution
from distributions.constraints import is_dependent
from distributions.torch_constraints import as_constraint
from distributions.utils import broadcast_shape
from distributions.violations import describe_offenders

__all__ = [
    "enable_validation",
    "is_validation_enabled",
    "validation_enabled",
    "check_message",
    "check_observation",
    "checks_values",
    "describe_offenders",
    "plate_shape_error",
    "duplicate_site_error",
    "plate_dim_clash_error",
    "plate_reuse_error",
    "param_constraint_error",
    "attach_shapes",
]

_ENABLED = [True]


def enable_validation(is_validate=True):
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


def is_validation_enabled():
    """Whether validation is on.

    Example:
        >>> is_validation_enabled()
        True
    """
    return _ENABLED[0]


@contextmanager
def validation_enabled(is_validate=True):
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


def check_message(msg):
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
    if not (hasattr(fn, "log_prob") and hasattr(fn, "batch_shape")):
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


def checks_values(fn):
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


def check_observation(name, fn, value, sample_shape=()):
    """Checks an observed value against its distribution: type, dtype, shape, support.

    The shape check catches the silent broadcast that makes a log-probability
    larger than both the value and the distribution (a value of shape (N, 1)
    scored by a distribution of batch shape (N,) gives an (N, N) log-prob).
    The dtype and support checks are skipped for a distribution built with
    ``validate_args=False`` (see :func:`checks_values`).

    Args:
        name: the site name, used in the messages.
        fn: the site's distribution (already broadcast over its plates).
        value: the observed value.
        sample_shape: the site's ``sample_shape``, prepended to the batch shape.

    Raises:
        ValueError: naming the site, the expected and actual shapes or dtype,
            and the fix.
    """
    dist_name = type(fn).__name__
    if not isinstance(value, torch.Tensor):
        raise ValueError(
            f"sample site '{name}': obs must be a torch.Tensor, got {type(value).__name__}; "
            "wrap it with torch.as_tensor(...)"
        )
    check_values = checks_values(fn)
    support = as_constraint(fn.support, name=f"support of sample site '{name}'")
    if check_values:
        _check_dtype(name, dist_name, support, value)
    event_shape = fn.event_shape
    split = value.dim() - len(event_shape)
    if split < 0 or value.shape[split:] != event_shape:
        raise ValueError(
            f"sample site '{name}': obs of shape {tuple(value.shape)} does not end in the "
            f"event shape {tuple(event_shape)} of {dist_name}; the rightmost "
            f"{len(event_shape)} dim(s) must match exactly"
        )
    _check_broadcast(name, dist_name, torch.Size(sample_shape) + fn.batch_shape, value, split)
    if check_values:
        _check_support(name, dist_name, support, value)


def _check_dtype(name, dist_name, support, value):
    if value.is_complex() or (
        not getattr(support, "is_discrete", False) and not value.is_floating_point()
    ):
        raise ValueError(
            f"sample site '{name}': obs has dtype {value.dtype} but {dist_name} has a "
            f"continuous support ({support}); pass a floating tensor, e.g. obs.float()"
        )


def _check_broadcast(name, dist_name, batch_shape, value, split):
    value_batch = value.shape[:split]
    try:
        log_prob_shape = broadcast_shape(value_batch, batch_shape)
    except RuntimeError:
        raise ValueError(
            f"sample site '{name}': obs batch shape {tuple(value_batch)} does not broadcast "
            f"with the batch shape {tuple(batch_shape)} of {dist_name}; reshape the "
            "observation or the distribution's parameters"
        ) from None
    if log_prob_shape != value_batch and log_prob_shape != batch_shape:
        raise ValueError(
            f"sample site '{name}': obs batch shape {tuple(value_batch)} and the batch shape "
            f"{tuple(batch_shape)} of {dist_name} broadcast to a larger log_prob shape "
            f"{tuple(log_prob_shape)}, counting each observation several times; make the "
            f"shapes equal (e.g. obs.reshape({tuple(batch_shape)}) or obs.squeeze(-1))"
        )


def _check_support(name, dist_name, support, value):
    if support is None or is_dependent(support):
        return
    valid = support.check(value)
    if not (bool(valid.all()) if isinstance(valid, torch.Tensor) else bool(valid)):
        raise ValueError(
            f"sample site '{name}': obs is outside the support {support} of {dist_name}: "
            f"{describe_offenders(value, support)}; observe values in the support (or build "
            f"the distribution with validate_args=False to score them anyway)"
        )


def plate_shape_error(name, frame, batch_shape):
    """The error for a site whose batch shape disagrees with an enclosing plate.

    Args:
        name: the site name.
        frame: the plate's :class:`~ppl.plate.CondIndepStackFrame`.
        batch_shape: the site distribution's batch shape.

    Returns:
        A ``ValueError`` to raise.
    """
    actual = batch_shape[frame.dim]
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


def duplicate_site_error(name, old_type, new_type):
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


def plate_dim_clash_error(name, dim, other):
    """The error for a plate asking for a dim another active plate holds.

    Returns:
        A ``ValueError`` to raise.
    """
    return ValueError(
        f"plate '{name}' asks for dim {dim}, which the enclosing plate '{other}' already "
        f"uses; give plate '{name}' another dim= (e.g. {dim - 1}) or leave dim=None to "
        "allocate one automatically"
    )


def plate_reuse_error(name, old, new):
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


def param_constraint_error(name, constraint, value, valid):
    """The error for a parameter initialized outside its constraint.

    Returns:
        A ``ValueError`` to raise.
    """
    return ValueError(
        f"param '{name}': the initial value of shape {tuple(value.shape)} is outside the "
        f"constraint {constraint}: {describe_offenders(value, constraint)}; pass an initial "
        f"value inside the constraint (or a different constraint=)"
    )


def attach_shapes(exc, table):
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
    new._ppl_shapes_attached = True
    return new
