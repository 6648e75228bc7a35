"""The table of distribution cases checked by ``test_oracles.py``.

Each family module contributes a ``CASES`` list; the generic tests run every
case against ``torch.distributions`` (same class name, same parameters) and,
when given, a ``scipy.stats`` frozen distribution.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

__all__ = ["Case", "all_cases", "build"]


@dataclass(frozen=True)
class Case:
    """One distribution with fixed parameters and the oracles to check it against.

    Attributes:
        name: class name in ``distributions`` (and ``torch.distributions`` unless
            ``torch_name`` says otherwise).
        params: constructor kwargs as numbers or nested lists (made tensors per dtype),
            or ints for integer arguments listed in ``int_params``.
        scipy: maps a dict of float64 numpy parameters to a frozen ``scipy.stats``
            distribution broadcast to the batch shape, or ``None``.
        torch_name: the torch oracle's class name; ``""`` for no torch oracle.
        int_params: parameter names passed as python ints, not tensors.
        ks: run the KS sampler test (univariate continuous only).
        discrete: the support is discrete (chi-square instead of KS, no rsample).
        grad_params: parameter names for the rsample mean-gradient check.
        tol: relative tolerance in float64 (float32 uses ``tol32``).
        tol32: relative tolerance in float32.
        cdf_extra: extra points (float64 list) where cdf/icdf must agree with scipy.
        label: test id suffix.
    """

    name: str
    params: dict
    scipy: Callable | None = None
    torch_name: str | None = None
    int_params: tuple = ()
    ks: bool = True
    discrete: bool = False
    grad_params: tuple = ()
    tol: float = 1e-6
    tol32: float = 1e-4
    cdf_extra: tuple = ()
    label: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def id(self):
        return f"{self.name}-{self.label}" if self.label else self.name


def _tensorize(params, int_params, dtype):
    out = {}
    for k, v in params.items():
        if k in int_params or isinstance(v, (bool, torch.Tensor)):
            out[k] = v
        elif isinstance(v, (int, float, list, tuple)):
            out[k] = torch.tensor(v, dtype=dtype)
        else:
            out[k] = v
    return out


def build(case, module, dtype, requires_grad=()):
    """Constructs the case's distribution from ``module`` (ours or torch's)."""
    name = case.name if module.__name__ == "distributions" else (case.torch_name or case.name)
    params = _tensorize(case.params, case.int_params, dtype)
    for k in requires_grad:
        params[k] = params[k].detach().requires_grad_()
    return getattr(module, name)(**params), params


def all_cases():
    """Every case of every family module that exists so far."""
    import importlib
    import pkgutil

    cases = []
    for info in pkgutil.iter_modules(__path__):
        mod = importlib.import_module(f"{__name__}.{info.name}")
        cases.extend(mod.CASES)
    return cases
