"""docs/porting.md keeps its promises: every name of ours it mentions imports.

The guide's tables have three columns (Pyro's name, ours, notes). A row's
second cell names ours in backticks or says "not here" and then gives the
alternative in the notes. Every backticked dotted name of our three packages,
anywhere on the page (alternatives included), must resolve.
"""

import importlib
import pathlib
import re

import pytest

GUIDE = pathlib.Path(__file__).resolve().parents[1] / "docs" / "porting.md"
OUR_NAME = re.compile(r"\b(?:ppl|inference|distributions)(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
SECTIONS = [
    "`pyro.*`",
    "`pyro.poutine.*`",
    "`pyro.infer.*`",
    "`pyro.infer.autoguide.*`",
    "`pyro.infer.reparam.*`",
    "`pyro.optim.*`",
    "`pyro.nn.*`",
    "`pyro.util.*`",
    "`pyro.distributions.*`",
]


def _rows(text):
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 3 or set(cells[0]) <= set("-"):
            continue
        if cells[:2] == ["Pyro", "here"]:
            continue
        rows.append(cells)
    return rows


def _resolve(dotted):
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for attr in parts[split:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def _backticked_names(text):
    # Fenced code blocks first: their triple backticks would pair up the rest wrongly.
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    names = set()
    for span in re.findall(r"`([^`]+)`", text):
        names.update(OUR_NAME.findall(span))
    return sorted(names)


TEXT = GUIDE.read_text()
ROWS = _rows(TEXT)


def test_the_guide_covers_every_pyro_namespace():
    headings = [line[3:] for line in TEXT.splitlines() if line.startswith("## ")]
    for section in SECTIONS:
        assert any(h.startswith(section) for h in headings), section
    assert len(ROWS) >= 150
    assert "## What differs on purpose" in TEXT


def test_every_row_names_ours_or_an_alternative():
    pyro_names = [row[0] for row in ROWS]
    assert len(pyro_names) == len(set(pyro_names)), "a Pyro name is listed twice"
    for pyro_name, ours, notes in ROWS:
        if ours == "not here":
            assert notes, f"{pyro_name}: 'not here' needs an alternative in the notes"
        else:
            assert OUR_NAME.search(ours), f"{pyro_name}: no name of ours in {ours!r}"


@pytest.mark.parametrize("name", _backticked_names(TEXT))
def test_every_name_of_ours_imports(name):
    _resolve(name)


def test_the_scanner_finds_names_in_cells_and_notes():
    names = _backticked_names(
        "```py\nimport ppl\n```\n| `a` | `ppl.sample` | `inference.SVI(m, g)` |"
    )
    assert names == ["inference.SVI", "ppl.sample"]
    assert len(_backticked_names(TEXT)) >= 120


@pytest.mark.parametrize("index", range(len(re.findall(r"```python\n", TEXT))))
def test_python_blocks_run(index):
    # Each block runs on its own, in a fresh namespace (the store is cleared per test).
    block = re.findall(r"```python\n(.*?)```", TEXT, flags=re.DOTALL)[index]
    exec(compile(block, f"docs/porting.md block {index}", "exec"), {"__name__": "porting"})


def test_the_resolver_fails_on_a_missing_name():
    with pytest.raises(AttributeError):
        _resolve("ppl.handlers.no_such_handler")
    with pytest.raises(ModuleNotFoundError):
        _resolve("no_such_package.x")
