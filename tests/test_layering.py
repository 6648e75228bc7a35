"""The three packages depend one way only: distributions <- ppl <- inference.

Every module file is parsed and each ``import``/``from`` statement, at any depth
(function-local imports included), is checked against the allowed direction.
Imports of our own modules also sit at module level: a function-local one is how a
cycle gets dodged instead of broken (the base class reaching its own subclasses goes
through a registry instead). Lazy imports of heavy third-party modules (matplotlib,
networkx in the render modules) stay allowed: they keep ``import inference`` cheap.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
FORBIDDEN = {"distributions": {"ppl", "inference"}, "ppl": {"inference"}, "inference": set()}


def _imported_top_names(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def _violations(package):
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for lineno, name in _imported_top_names(tree):
            if name in FORBIDDEN[package]:
                found.append(f"{path.relative_to(ROOT)}:{lineno} imports {name}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_upward_imports(package):
    assert _violations(package) == []


def test_checker_detects_an_upward_import(tmp_path):
    tree = ast.parse("def f():\n    from inference import SVI\n")
    assert [name for _, name in _imported_top_names(tree)] == ["inference"]


def _local_own_imports(tree):
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node, name in _imported_top_names_in(func):
            if name in FORBIDDEN or name == ".":
                yield node.lineno, name


def _imported_top_names_in(func):
    for node in ast.walk(func):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            # A relative import ("." for short) is always one of our own modules.
            yield node, (node.module or "").split(".")[0] if node.level == 0 else "."


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_function_local_imports_of_our_modules(package):
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        found += [
            f"{path.relative_to(ROOT)}:{n} imports {name}" for n, name in _local_own_imports(tree)
        ]
    assert found == []


def test_local_import_checker_flags_ours_and_spares_third_party():
    tree = ast.parse(
        "import ppl\n"
        "def f():\n    import networkx\n    from distributions.masked import M\n"
        "class A:\n    def g(self):\n        from . import x\n"
    )
    assert sorted(n for n, _ in _local_own_imports(tree)) == [4, 7]


def test_no_torch_distributions_in_packages():
    # torch.distributions is a test oracle only; the packages are our own code.
    bad = []
    for package in FORBIDDEN:
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text()
            if "torch.distributions" in text.replace("``torch.distributions``", ""):
                for i, line in enumerate(text.splitlines(), 1):
                    if "import" in line and "torch.distributions" in line:
                        bad.append(f"{path.relative_to(ROOT)}:{i}")
    assert bad == []
