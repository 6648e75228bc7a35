"""Checkpoint files on disk: atomic writes that leave nothing behind, safe reads that name the file.

A save writes a temp file next to its target and renames it over the target
(``os.replace`` is atomic on POSIX and Windows), so a reader sees the old file
or the new one, never half of one. The temp file's name records the target and
the writing process, ``.{target}.ppl-tmp-{pid}-{random}.tmp``: a save killed
mid-write (``SIGKILL``, a power cut) cannot remove its own temp file, so the
next save of the same target removes those whose writer is gone.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import torch

__all__ = ["write_atomically", "read_torch_file", "stale_temp_files"]

_MARK = ".ppl-tmp-"


def _temp_prefix(path: str) -> str:
    return f".{os.path.basename(path)}{_MARK}"


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another thread of this process may be saving right now
    if os.name != "posix":
        return True  # no harmless liveness probe (os.kill would terminate it): keep the file
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user
    return True


def stale_temp_files(path: str) -> list[str]:
    """The temp files of earlier saves to ``path`` whose writing process has exited.

    Temp files of other targets, of live processes, and files not named by
    :func:`write_atomically` are never listed.

    Example:
        >>> import tempfile, os
        >>> directory = tempfile.mkdtemp()
        >>> stale_temp_files(os.path.join(directory, "params.pt"))
        []
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    prefix = _temp_prefix(path)
    stale = []
    for name in os.listdir(directory):
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid = name[len(prefix) :].split("-", 1)[0]
        if pid.isdigit() and not _process_alive(int(pid)):
            stale.append(os.path.join(directory, name))
    return sorted(stale)


def _remove_stale(path: str) -> None:
    for stale in stale_temp_files(path):
        try:
            os.remove(stale)
        except FileNotFoundError:
            pass  # a concurrent save of the same target removed it first


def write_atomically(path: str | os.PathLike[str], payload: Any) -> None:
    """Writes ``torch.save(payload)`` to ``path`` through a temp file renamed over it.

    Stale temp files of earlier, killed saves to the same ``path`` are removed
    first; on any error (even ``KeyboardInterrupt``) this save's temp file is
    removed and the old file at ``path`` is left as it was.

    Args:
        path: the target file.
        payload: what ``torch.save`` writes.

    Example:
        >>> import tempfile, os, torch
        >>> target = os.path.join(tempfile.mkdtemp(), "x.pt")
        >>> write_atomically(target, {"a": torch.zeros(1)})
        >>> os.listdir(os.path.dirname(target))
        ['x.pt']
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    _remove_stale(path)
    prefix = f"{_temp_prefix(path)}{os.getpid()}-"
    handle, tmp = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def read_torch_file(
    path: str | os.PathLike[str], map_location: Any = None, what: str = "a parameter store"
) -> Any:
    """Loads ``path`` with ``torch.load(weights_only=True)``; any refusal is one ``ValueError``.

    Opening the file raises as usual (``FileNotFoundError``, ``PermissionError``):
    those are about the path, not the content. Everything that goes wrong
    while reading the opened file means the content is truncated, corrupted,
    foreign or unsafe, and is reported as a ``ValueError`` naming the file.

    Args:
        path: the file.
        map_location: as for ``torch.load``.
        what: what the file should be, for the message.

    Raises:
        ValueError: naming the file and what torch reported.

    Example:
        >>> import tempfile, pathlib
        >>> bad = pathlib.Path(tempfile.mkdtemp()) / "bad.pt"
        >>> _ = bad.write_bytes(b"no")
        >>> try:
        ...     read_torch_file(bad)
        ... except ValueError as e:
        ...     print(str(e).startswith(f"refusing to load '{bad}'"))
        True
    """
    with open(path, "rb") as f:
        try:
            return torch.load(f, map_location=map_location, weights_only=True)
        except Exception as e:  # whatever a damaged file makes torch raise
            raise ValueError(
                f"refusing to load '{path}' as {what}: torch.load(weights_only=True) rejected "
                f"it ({type(e).__name__}: {_first_line(e)}), so it is truncated or corrupted, "
                "not a torch file, or it holds objects beyond tensors and plain data (a "
                "tampered or foreign file); do not load it with weights_only=False unless "
                "you trust its source"
            ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else ""
    return line if len(line) <= 120 else line[:117] + "..."
