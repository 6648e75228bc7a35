"""The typed-modules ratchet: what `make lint` type-checks, and the rule it keeps.

``[tool.mypy] files`` in pyproject.toml lists the modules mypy checks with every
def annotated. The list only grows: a module joins once it is annotated and
passes mypy, and is never taken off to make a change pass. These tests keep the
list honest without running mypy (that is `make lint`'s job): every entry exists,
the list is sorted without repeats, each listed module has no unannotated def,
and the packages ship a PEP 561 ``py.typed`` marker.
"""

import ast
import pathlib

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the config is read the same on 3.10

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("distributions", "ppl", "inference")


def _config():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _checked_files():
    return _config()["tool"]["mypy"]["files"]


def _unannotated_defs(source):
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        args = node.args
        params = args.posonlyargs + args.args + args.kwonlyargs
        params += [a for a in (args.vararg, args.kwarg) if a is not None]
        # self/cls are typed by their class; every other parameter and the return are not.
        untyped = [a.arg for a in params if a.annotation is None and a.arg not in ("self", "cls")]
        if untyped or node.returns is None:
            found.append(f"{node.name}:{node.lineno}")
    return found


def test_checked_list_is_sorted_unique_and_exists():
    files = _checked_files()
    assert files == sorted(set(files))
    assert [f for f in files if not (ROOT / f).is_file()] == []


@pytest.mark.parametrize("path", _checked_files())
def test_checked_module_has_every_def_annotated(path):
    assert _unannotated_defs((ROOT / path).read_text()) == []


def test_unannotated_def_detector():
    source = (
        "def f(x: int) -> int:\n    return x\nclass A:\n    def g(self, y):\n        return y\n"
    )
    assert _unannotated_defs(source) == ["g:4"]


def test_packages_ship_py_typed():
    package_data = _config()["tool"]["setuptools"]["package-data"]
    for package in PACKAGES:
        assert (ROOT / package / "py.typed").is_file()
        assert "py.typed" in package_data[package]
