"""Writes the API and example pages that Sphinx reads, from the code itself.

Generated at every build, so a new module or example cannot be left out of the
site. Each package (and subpackage) gets one API page with a section per
module; a section documents the names of the module's ``__all__`` that the
module defines itself, and links the names it re-exports to where they are
defined, so every object is described exactly once. Each example gets a page
with its docstring, its source and the PNG committed for it (never by running
it: examples train models).

Example:
    >>> from pathlib import Path
    >>> root = Path(__file__).resolve().parent.parent
    >>> "ppl.handlers" in subpackages(root, "ppl")
    True
    >>> {"seed", "torch"} & defined_names(root / "ppl" / "handlers" / "seed.py")
    {'seed'}
"""

import ast
import importlib
import inspect
from pathlib import Path

__all__ = [
    "PACKAGES",
    "defined_names",
    "subpackages",
    "module_names",
    "canonical_names",
    "write_api_pages",
    "write_example_pages",
]

PACKAGES = ("distributions", "ppl", "inference")


def _path_of(root: Path, dotted: str) -> Path:
    path = root.joinpath(*dotted.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def defined_names(path: Path) -> set[str]:
    """Names bound at the top level of a module's source by ``def``, ``class`` or ``=``.

    Args:
        path: the module's file.

    Returns:
        The names; an ``import`` binds none (that is a re-export).
    """
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def subpackages(root: Path, package: str) -> list[str]:
    """The public subpackages directly inside ``package``, sorted."""
    folder = root.joinpath(*package.split("."))
    return sorted(
        f"{package}.{p.name}"
        for p in folder.iterdir()
        if (p / "__init__.py").exists() and not p.name.startswith("_")
    )


def module_names(root: Path, package: str) -> list[str]:
    """The public plain modules directly inside ``package``, sorted."""
    folder = root.joinpath(*package.split("."))
    return sorted(f"{package}.{p.stem}" for p in folder.glob("*.py") if not p.name.startswith("_"))


def _all_modules(root: Path) -> list[str]:
    todo, found = list(PACKAGES), []
    while todo:
        package = todo.pop()
        found += [package, *module_names(root, package)]
        todo += subpackages(root, package)
    return sorted(found)


def _own_exports(root: Path, module: str) -> tuple[list[str], list[str]]:
    exported = list(getattr(importlib.import_module(module), "__all__", []))
    own = defined_names(_path_of(root, module))
    return [n for n in exported if n in own], [n for n in exported if n not in own]


def canonical_names(root: Path) -> dict[str, str]:
    """Maps every exported dotted name (``ppl.trace``) to where it is documented.

    Args:
        root: the repository root.

    Returns:
        ``{"ppl.trace": "ppl.handlers.trace.trace", "ppl.handlers":
        "ppl.handlers", ...}``; the names a module defines map to themselves.
    """
    canonical, by_id, reexports = {}, {}, []
    for module in _all_modules(root):
        mod = importlib.import_module(module)
        by_id[id(mod)] = module
        own, reexported = _own_exports(root, module)
        for name in own:
            canonical[f"{module}.{name}"] = f"{module}.{name}"
            by_id.setdefault(id(getattr(mod, name)), f"{module}.{name}")
        reexports += [(module, name, getattr(mod, name)) for name in reexported]
    # By identity: a re-export is the very object its defining module binds.
    for module, name, obj in reexports:
        if id(obj) in by_id:
            canonical[f"{module}.{name}"] = by_id[id(obj)]
    return canonical


def _directive(obj: object) -> str:
    if inspect.isclass(obj):
        return "autoexception" if issubclass(obj, BaseException) else "autoclass"
    return "autofunction" if inspect.isroutine(obj) else "autodata"


def _heading(text: str, underline: str) -> list[str]:
    return [text, underline * len(text), ""]


def _module_section(root: Path, module: str, canonical: dict[str, str]) -> list[str]:
    mod = importlib.import_module(module)
    own, reexported = _own_exports(root, module)
    lines = [f".. automodule:: {module}", ""]
    for name in own:
        directive = _directive(getattr(mod, name))
        lines += [f".. {directive}:: {module}.{name}"]
        lines += ["   :members:", ""] if directive in ("autoclass", "autoexception") else [""]
    # A name defined outside the three packages has no page to link to.
    links = [
        f":py:obj:`{n} <{canonical[f'{module}.{n}']}>`"
        if f"{module}.{n}" in canonical
        else f"``{n}``"
        for n in reexported
    ]
    if links:
        lines += [("Also exports " if own else "Exports ") + ", ".join(links) + ".", ""]
    return lines


def _api_page(root: Path, package: str, canonical: dict[str, str]) -> str:
    lines = _heading(f"``{package}``", "=")
    lines += _module_section(root, package, canonical)
    children = subpackages(root, package)
    if children:
        lines += [".. toctree::", "   :maxdepth: 1", ""]
        lines += [f"   {child}" for child in children] + [""]
    for module in module_names(root, package):
        lines += _heading(f"``{module}``", "-") + _module_section(root, module, canonical)
    return "\n".join(lines)


def _write_if_changed(path: Path, text: str) -> None:
    # Rewriting an unchanged page would make Sphinx re-read it on every build.
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def write_api_pages(root: Path, out: Path) -> None:
    """Writes ``out/<package>.rst`` for every package and subpackage.

    Args:
        root: the repository root.
        out: the folder for the pages (created if missing).
    """
    out.mkdir(parents=True, exist_ok=True)
    canonical = canonical_names(root)
    todo = list(PACKAGES)
    while todo:
        package = todo.pop()
        _write_if_changed(out / f"{package}.rst", _api_page(root, package, canonical))
        todo += subpackages(root, package)


def _example_page(root: Path, script: Path) -> str:
    body = ast.parse(script.read_text()).body
    has_doc = (
        bool(body) and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
    )
    doc = inspect.cleandoc(body[0].value.value) if has_doc else ""
    rel = script.relative_to(root).as_posix()
    lines = _heading(f"``{script.name}``", "=") + [doc, ""]
    # A committed picture of what the example draws: docs/<script>.png or docs/<script>-*.png.
    pngs = [
        *(root / "docs").glob(f"{script.stem}.png"),
        *(root / "docs").glob(f"{script.stem}-*.png"),
    ]
    for png in sorted(pngs):
        lines += [f".. image:: /{png.name}", f"   :alt: {png.stem}", ""]
    lines += _heading(f"Source: ``{rel}``", "-")
    # The code after the docstring shown above, numbered as in the file.
    first = body[0].end_lineno + 1 if has_doc else 1
    lines += [f".. literalinclude:: /../{rel}", "   :language: python"]
    lines += [f"   :lines: {first}-", "   :lineno-match:", ""]
    return "\n".join(lines)


def write_example_pages(root: Path, out: Path) -> None:
    """Writes ``out/<script>.rst`` for every script in ``examples/``.

    Args:
        root: the repository root.
        out: the folder for the pages (created if missing).
    """
    out.mkdir(parents=True, exist_ok=True)
    for script in sorted((root / "examples").glob("[!_]*.py")):
        _write_if_changed(out / f"{script.stem}.rst", _example_page(root, script))
