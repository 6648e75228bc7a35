"""Every ``python`` block of README.md runs, in order, in one namespace, printing what it says.

A line ``print(...)  # text`` promises its output: ``text`` exactly, or, for
``# about X, ...``, a number within 0.1 of ``X`` (the README's fits are
seeded, so the margin only absorbs platform rounding, not luck).
"""

import contextlib
import io
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
PROMISE = re.compile(r"^\s*print\(.*\)\s*#\s*(.*)$")
ABOUT = re.compile(r"about (-?[0-9.]+)")


def _blocks():
    return BLOCK.findall((ROOT / "README.md").read_text())


def _promises(block):
    return [m.group(1).strip() for line in block.splitlines() if (m := PROMISE.match(line))]


def _check(printed, promised, i):
    about = ABOUT.match(promised)
    if about:
        assert float(printed) == pytest.approx(float(about.group(1)), abs=0.1), (
            f"README block {i} printed {printed}, its comment says {promised!r}"
        )
    else:
        assert printed == promised, f"README block {i} printed {printed!r}, not {promised!r}"


def test_readme_has_code_blocks():
    assert len(_blocks()) >= 1


def test_readme_code_blocks_run_and_print_what_they_say(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme"}
    checked = 0
    for i, block in enumerate(_blocks()):
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(block, f"README.md block {i}", "exec"), namespace)
        except Exception as e:
            raise AssertionError(f"README code block {i} failed: {e!r}\n{block}") from e
        printed = out.getvalue().splitlines()
        promises = _promises(block)
        assert len(printed) == len(promises), (
            f"README block {i} printed {len(printed)} lines but promises {len(promises)}"
        )
        for line, promise in zip(printed, promises):
            _check(line, promise, i)
            checked += 1
    assert checked >= 4
