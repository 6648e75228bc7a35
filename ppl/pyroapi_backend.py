"""Registers this project as the pyroapi backend ``"ppl"``.

Module names are given as strings, so ``ppl`` does not import ``inference``:
pyroapi imports each module only when a model first uses it.

Example:
    >>> from pyroapi import pyro, pyro_backend
    >>> with pyro_backend("ppl"):
    ...     pyro.get_param_store() is not None
    True
"""

from __future__ import annotations

import pyroapi

__all__ = ["BACKEND_NAME", "BACKEND_MODULES", "register"]

BACKEND_NAME = "ppl"
BACKEND_MODULES = {
    "pyro": "ppl",
    "distributions": "distributions",
    "handlers": "ppl.handlers",
    "infer": "inference",
    "optim": "inference.optim",
    "ops": "torch",
}


def register() -> None:
    """Registers (or re-registers) the ``"ppl"`` backend with pyroapi."""
    pyroapi.register_backend(BACKEND_NAME, BACKEND_MODULES)
