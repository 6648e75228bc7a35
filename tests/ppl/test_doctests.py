"""Every ``Example:`` in the ppl package runs and prints what it shows."""

import doctest
import importlib
import pkgutil

import pytest

import ppl

MODULES = sorted(
    info.name for info in pkgutil.walk_packages(ppl.__path__, prefix="ppl.") if not info.ispkg
) + ["ppl", "ppl.handlers"]


@pytest.mark.parametrize("name", MODULES)
def test_module_examples(name):
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, verbose=False)
    assert result.failed == 0, f"{result.failed} failing example(s) in {name}"
