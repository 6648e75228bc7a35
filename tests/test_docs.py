"""The docs site: every public object has one page entry, and the build is warning-free.

The page generator (``docs/pages.py``) is checked without Sphinx; the build
itself (what ``make docs`` runs, into a temporary folder) needs the ``docs``
extra and is skipped without it.
"""

import doctest
import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def pages():
    spec = importlib.util.spec_from_file_location("docs_pages", DOCS / "pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _module_names():
    # Independent of pages.py's walk: every file of the three packages is a module.
    names = []
    for package in ("distributions", "ppl", "inference"):
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            if not any(part.startswith("_") for part in parts):
                names.append(".".join(parts))
    return sorted(names)


def test_pages_examples_run(pages):
    result = doctest.testmod(pages, verbose=False)
    assert result.attempted > 0 and result.failed == 0


def test_every_module_has_a_section(pages, tmp_path):
    pages.write_api_pages(ROOT, tmp_path)
    text = "\n".join(p.read_text() for p in tmp_path.glob("*.rst"))
    documented = sorted(line.split(":: ")[1] for line in text.splitlines() if "automodule" in line)
    assert documented == _module_names()


def test_every_export_is_documented_once_where_defined(pages, tmp_path):
    pages.write_api_pages(ROOT, tmp_path)
    text = "\n".join(p.read_text() for p in tmp_path.glob("*.rst"))
    canonical = pages.canonical_names(ROOT)
    # distributions re-exports from distributions.transforms, which re-exports from its module.
    expected = "distributions.transforms.elementwise.ExpTransform"
    assert canonical["distributions.ExpTransform"] == expected
    assert canonical["distributions.transforms.ExpTransform"] == expected
    assert canonical["ppl.handlers.trace"] == "ppl.handlers.trace.trace"
    assert canonical["distributions.Normal"] == "distributions.normal.Normal"
    for documented in set(canonical.values()):
        directives = [f".. auto{kind}:: {documented}\n" for kind in ("class", "function", "data")]
        directives += [f".. autoexception:: {documented}\n", f".. automodule:: {documented}\n"]
        assert sum(text.count(d) for d in directives) == 1, documented


def test_every_example_has_a_page(pages, tmp_path):
    pages.write_example_pages(ROOT, tmp_path)
    scripts = sorted(p.stem for p in (ROOT / "examples").glob("[!_]*.py"))
    assert sorted(p.stem for p in tmp_path.glob("*.rst")) == scripts
    pathwise = (tmp_path / "pathwise.rst").read_text()
    assert ".. image:: /pathwise.png" in pathwise
    assert ".. literalinclude:: /../examples/pathwise.py" in pathwise
    # The source starts after the docstring, which the page shows as text.
    source = (ROOT / "examples" / "pathwise.py").read_text().splitlines()
    first = int(pathwise.split(":lines: ")[1].split("-")[0])
    assert source[first - 2].strip().endswith('"""') and source[first - 1].strip() != '"""'


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    for package in ("sphinx", "myst_parser"):
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"{package} is not installed (the docs extra: pip install -e '.[docs]')")
    # The same flags as `make docs`: nitpicky, every warning an error, a fresh environment.
    command = [sys.executable, "-m", "sphinx", "-E", "-W", "--keep-going", "-n", "-q"]
    command += ["-b", "dummy", str(DOCS), str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-5000:]
