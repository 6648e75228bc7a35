"""Safe (de)serialization of parameter stores: plain data in, plain data out.

``torch.load(weights_only=True)`` refuses anything but tensors and plain
containers, so constraints are written as data: the public name of a
module-level constraint (``"positive"``), or the class name and attributes
of a parameterized one (``interval(0, 3)``). Reading rebuilds only subclasses
of :class:`distributions.constraints.Constraint` found in that module.

Since version 2 a payload carries a SHA-256 checksum of its content (every
table, every tensor's dtype, shape and bytes), so a flipped or lost byte that
torch's reader does not notice is still caught. Version 1 files (no checksum)
are still read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import torch

from distributions import constraints
from distributions.constraints import Constraint

__all__ = [
    "encode_constraint",
    "decode_constraint",
    "encode_state",
    "decode_state",
    "payload_checksum",
]

# Versions written before the checksum: read without one.
_UNCHECKED_VERSIONS = frozenset({1})

_PUBLIC = {
    name: obj for name, obj in vars(constraints).items() if isinstance(obj, constraints.Constraint)
}


def encode_constraint(constraint: Constraint) -> dict[str, Any]:
    """Encodes a constraint as plain data.

    Example:
        >>> from distributions import constraints
        >>> encode_constraint(constraints.positive)
        {'name': 'positive'}
        >>> decode_constraint(encode_constraint(constraints.interval(0.0, 3.0)))
        Interval(lower_bound=0.0, upper_bound=3.0)
    """
    for name, obj in _PUBLIC.items():
        if obj is constraint:
            return {"name": name}
    cls = type(constraint)
    if getattr(constraints, cls.__name__, None) is not cls:
        raise ValueError(
            f"cannot save the constraint {constraint!r}: its class {cls.__name__} is not "
            "defined in distributions.constraints"
        )
    return {"class": cls.__name__, "attrs": {k: _encode(v) for k, v in vars(constraint).items()}}


def _encode(value: Any) -> Any:
    if isinstance(value, constraints.Constraint):
        return {"constraint": encode_constraint(value)}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return value
    raise ValueError(f"cannot save a constraint attribute of type {type(value).__name__}")


def decode_constraint(data: Any) -> Constraint:
    """Rebuilds a constraint encoded by :func:`encode_constraint`.

    Raises:
        ValueError: for anything that is not such an encoding.
    """
    if not isinstance(data, dict):
        raise ValueError(f"expected an encoded constraint, got {type(data).__name__}")
    if "name" in data:
        if data["name"] not in _PUBLIC:
            raise ValueError(f"unknown constraint name {data['name']!r}")
        return _PUBLIC[data["name"]]
    cls = getattr(constraints, str(data.get("class")), None)
    if not (isinstance(cls, type) and issubclass(cls, constraints.Constraint)):
        raise ValueError(f"unknown constraint class {data.get('class')!r}")
    attrs = data.get("attrs")
    if not isinstance(attrs, dict):
        raise ValueError(f"constraint {cls.__name__} has no attribute table")
    obj = cls.__new__(cls)
    for key, value in attrs.items():
        setattr(obj, str(key), _decode(value))
    return obj


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        return decode_constraint(value.get("constraint"))
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _check_plain(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise ValueError(f"{where} has a key of type {type(key).__name__}; use str keys")
            _check_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
    elif not (value is None or isinstance(value, (bool, int, float, str, torch.Tensor))):
        raise ValueError(
            f"{where} is a {type(value).__name__}; only tensors, numbers, strings, None and "
            "dicts/lists/tuples of them can be saved (so that loading cannot run code)"
        )


def payload_checksum(payload: Any) -> str:
    """SHA-256 (hex) of a payload's content: every entry but ``"checksum"``, in order.

    Tensors count by dtype, shape and bytes (on the CPU, dense), so the sum
    does not depend on the device a file is loaded to.

    Example:
        >>> import torch
        >>> a = payload_checksum({"params": {"w": torch.zeros(2)}})
        >>> a == payload_checksum({"params": {"w": torch.zeros(2)}})
        True
        >>> a == payload_checksum({"params": {"w": torch.tensor([0.0, 1e-30])}})
        False
    """
    digest = hashlib.sha256()
    _feed(digest, {k: v for k, v in payload.items() if k != "checksum"})
    return digest.hexdigest()


def _feed(digest: Any, value: Any) -> None:
    # Each item is tagged with its type (and containers with their length), so
    # different structures cannot produce the same byte stream.
    if isinstance(value, dict):
        digest.update(b"{%d" % len(value))
        for key, item in value.items():
            _feed(digest, key)
            _feed(digest, item)
    elif isinstance(value, (list, tuple)):
        digest.update(b"%s%d" % (type(value).__name__.encode(), len(value)))
        for item in value:
            _feed(digest, item)
    elif isinstance(value, torch.Tensor):
        _feed_tensor(digest, value)
    else:
        digest.update(f"<{type(value).__name__}:{value!r}>".encode())


def _feed_tensor(digest: Any, tensor: torch.Tensor) -> None:
    t = tensor.detach()
    if t.layout != torch.strided:
        t = t.to_dense()
    t = t.resolve_conj().resolve_neg().cpu().contiguous()
    digest.update(f"<tensor {t.dtype} {tuple(t.shape)}>".encode())
    digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())


def encode_state(
    state: Mapping[str, Any], extra: Any, file_format: str, version: int
) -> dict[str, Any]:
    """The payload :meth:`ParamStore.save` writes: plain data only, with its checksum.

    Raises:
        ValueError: when ``extra`` holds anything else, naming where.
    """
    _check_plain(extra, "extra")
    payload = {
        "format": file_format,
        "version": version,
        "params": state["params"],
        "constraints": {n: encode_constraint(c) for n, c in state["constraints"].items()},
        "event_dims": state["event_dims"],
        "extra": extra,
    }
    payload["checksum"] = payload_checksum(payload)
    return payload


def decode_state(payload: Any, path: Any, file_format: str, version: int) -> Any:
    """Checks a payload's layout and checksum, and returns ``(state, extra)``.

    Everything is checked here, before a store changes: the format marker,
    the version, the checksum, and every table (names, tensors of a floating
    dtype, constraints, event dims).

    Raises:
        ValueError: naming the file and what is wrong with it.
    """
    if not isinstance(payload, dict) or payload.get("format") != file_format:
        raise ValueError(
            f"'{path}' is not a parameter store file (no '{file_format}' format marker); "
            "write it with ParamStore.save"
        )
    found = payload.get("version")
    if found != version and found not in _UNCHECKED_VERSIONS:
        raise ValueError(
            f"'{path}' is a parameter store of version {found!r}; "
            f"this code reads versions {sorted(_UNCHECKED_VERSIONS | {version})}"
        )
    _check_checksum(payload, path, needed=found not in _UNCHECKED_VERSIONS)
    params = _checked_params(payload.get("params"), path)
    encoded = payload.get("constraints", {})
    if not isinstance(encoded, dict) or set(encoded) - set(params):
        raise ValueError(f"'{path}': the constraints table names unknown params")
    try:
        decoded = {n: decode_constraint(c) for n, c in encoded.items()}
    except ValueError as e:
        raise ValueError(f"'{path}': {e}") from None
    event_dims = _checked_event_dims(payload.get("event_dims", {}), params, path)
    state = {"params": params, "constraints": decoded, "event_dims": event_dims}
    return state, payload.get("extra")


def _check_checksum(payload: Mapping[str, Any], path: Any, needed: bool) -> None:
    stored = payload.get("checksum")
    if stored is None and not needed:
        return
    if not isinstance(stored, str) or stored != payload_checksum(payload):
        raise ValueError(
            f"'{path}': the content does not match the checksum saved with it, so the file "
            "is corrupted (a changed, lost or added byte); load an intact copy, or save again"
        )


def _checked_params(params: Any, path: Any) -> dict[str, torch.Tensor]:
    if not isinstance(params, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in params.items()
    ):
        raise ValueError(f"'{path}': the params table must map names to tensors")
    for name, value in params.items():
        if not (value.is_floating_point() or value.is_complex()):
            raise ValueError(
                f"'{path}': param '{name}' has dtype {value.dtype}; a learnable parameter "
                "must have a floating-point dtype"
            )
    return params


def _checked_event_dims(
    event_dims: Any, params: Mapping[str, torch.Tensor], path: Any
) -> dict[str, int | None]:
    if not isinstance(event_dims, dict) or set(event_dims) - set(params):
        raise ValueError(f"'{path}': the event_dims table must map known param names")
    for name, dim in event_dims.items():
        if not (dim is None or (isinstance(dim, int) and not isinstance(dim, bool) and dim >= 0)):
            raise ValueError(
                f"'{path}': param '{name}' has event_dim {dim!r}; expected None or an int >= 0"
            )
    return event_dims
