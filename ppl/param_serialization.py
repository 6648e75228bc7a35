"""Safe (de)serialization of parameter stores: plain data in, plain data out.

``torch.load(weights_only=True)`` refuses anything but tensors and plain
containers, so constraints are written as data: the public name of a
module-level constraint (``"positive"``), or the class name and attributes
of a parameterized one (``interval(0, 3)``). Reading rebuilds only subclasses
of :class:`distributions.constraints.Constraint` found in that module.
"""

import pickle
import zipfile

import torch

from distributions import constraints

__all__ = ["encode_constraint", "decode_constraint", "encode_state", "decode_state", "read_payload"]

_PUBLIC = {
    name: obj for name, obj in vars(constraints).items() if isinstance(obj, constraints.Constraint)
}


def encode_constraint(constraint):
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


def _encode(value):
    if isinstance(value, constraints.Constraint):
        return {"constraint": encode_constraint(value)}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return value
    raise ValueError(f"cannot save a constraint attribute of type {type(value).__name__}")


def decode_constraint(data):
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


def _decode(value):
    if isinstance(value, dict):
        return decode_constraint(value.get("constraint"))
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _check_plain(value, where):
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


def encode_state(state, extra, file_format, version):
    """The payload :meth:`ParamStore.save` writes: plain data only.

    Raises:
        ValueError: when ``extra`` holds anything else, naming where.
    """
    _check_plain(extra, "extra")
    return {
        "format": file_format,
        "version": version,
        "params": state["params"],
        "constraints": {n: encode_constraint(c) for n, c in state["constraints"].items()},
        "event_dims": state["event_dims"],
        "extra": extra,
    }


def read_payload(path, map_location=None):
    """Loads a payload with ``weights_only=True``, turning every refusal into one error.

    Raises:
        ValueError: naming the file, when torch refuses it or cannot read it.
    """
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as e:
        raise ValueError(
            f"refusing to load '{path}' as a parameter store: torch.load(weights_only=True) "
            f"rejected it ({type(e).__name__}), so it is not a torch file or it holds objects "
            "beyond tensors and plain data (a tampered or foreign file); do not load it "
            "with weights_only=False unless you trust its source"
        ) from None


def decode_state(payload, path, file_format, version):
    """Checks a payload's layout and returns ``(state, extra)``.

    Raises:
        ValueError: when the payload is not a parameter store of this version.
    """
    if not isinstance(payload, dict) or payload.get("format") != file_format:
        raise ValueError(
            f"'{path}' is not a parameter store file (no '{file_format}' format marker); "
            "write it with ParamStore.save"
        )
    if payload.get("version") != version:
        raise ValueError(
            f"'{path}' is a parameter store of version {payload.get('version')!r}; "
            f"this code reads version {version}"
        )
    params = payload.get("params")
    if not isinstance(params, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in params.items()
    ):
        raise ValueError(f"'{path}': the params table must map names to tensors")
    encoded = payload.get("constraints", {})
    if not isinstance(encoded, dict) or set(encoded) - set(params):
        raise ValueError(f"'{path}': the constraints table names unknown params")
    try:
        decoded = {n: decode_constraint(c) for n, c in encoded.items()}
    except ValueError as e:
        raise ValueError(f"'{path}': {e}") from None
    event_dims = payload.get("event_dims", {})
    state = {"params": params, "constraints": decoded, "event_dims": event_dims}
    return state, payload.get("extra")
