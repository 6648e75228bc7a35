"""Every ``Example:`` in the inference package runs and shows what it says."""

import doctest
import importlib
import pkgutil

import pytest

import inference

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(inference.__path__, prefix="inference.")
    if not info.ispkg
)


@pytest.mark.parametrize("name", MODULES)
def test_module_examples(name):
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, verbose=False)
    assert result.failed == 0, f"{result.failed} failing example(s) in {name}"
