"""Every ``python`` code block of README.md runs, in order, in one namespace."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _blocks():
    return BLOCK.findall((ROOT / "README.md").read_text())


def test_readme_has_code_blocks():
    assert len(_blocks()) >= 1


def test_readme_code_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme"}
    for i, block in enumerate(_blocks()):
        try:
            exec(compile(block, f"README.md block {i}", "exec"), namespace)
        except Exception as e:
            raise AssertionError(f"README code block {i} failed: {e!r}\n{block}") from e
