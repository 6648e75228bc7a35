"""Every docstring ``Example:`` in the three packages runs and shows what it says."""

import doctest
import importlib
import pkgutil

import pytest

import distributions
import inference
import ppl


def _modules(package):
    prefix = package.__name__ + "."
    names = [info.name for info in pkgutil.walk_packages(package.__path__, prefix=prefix)]
    return [package.__name__, *names]


MODULES = sorted(name for package in (distributions, ppl, inference) for name in _modules(package))


@pytest.mark.parametrize("name", MODULES)
def test_module_examples(name):
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, verbose=False)
    assert result.failed == 0, f"{result.failed} failing example(s) in {name}"
