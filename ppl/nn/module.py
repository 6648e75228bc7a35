"""``ppl.nn.Module``: a ``torch.nn.Module`` whose attributes can be param and sample sites.

A module attribute set to :class:`~ppl.nn.Param` becomes a constrained
parameter in the parameter store, one set to :class:`~ppl.nn.Sample` a
random variable; the site names are the attributes' dotted paths from the
outermost module (``"linear.weight"``), as in Pyro's ``PyroModule``. A
``torch.nn.Parameter`` of the module is also read through ``ppl.param`` under
its dotted name while the module runs, so SVI trains it with the rest.

Calls share one cache per outermost module: a sample attribute read several
times in one call (its ``forward`` and the submodules it calls) is drawn
once; every call draws afresh. Because every read is an ordinary
``ppl.sample`` or ``ppl.param`` message, the module runs under every handler
(trace, condition, substitute, block, seed, replay, ...) and with autoguides,
``Predictive`` and SVI like a model function.

Existing torch modules: ``Module[torch.nn.Linear](3, 1)`` builds the class
``BayesianLinear`` (a subclass of both, made once and cached), whose
``weight`` and ``bias`` may then be replaced by ``Sample`` priors. A class
cache and ``__class_getitem__`` are all it takes, no metaclass.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, SupportsIndex

import torch

from ppl import primitives
from ppl.nn.sites import Param, Sample
from ppl.param_store import get_param_store

__all__ = ["Module", "method", "to_bayesian_"]

# (Module subclass, torch module class) -> the mixed class, built once, and back.
_MIXED_CLASSES: dict[tuple[type, type], type] = {}
_MIXED_KEYS: dict[type, tuple[type, type]] = {}


class _CallState(threading.local):
    # One thread's view of a call scope: how deep the call is, and its values.
    depth = 0
    values: dict[str, Any] | None = None


class _CallScope:
    """Per thread: how deeply the module tree is being called, and the current call's values.

    Shared by an outermost module and all its submodules; a thread's values
    are forgotten when its outermost call returns. Threads running the same
    module at once (the handler stack is per thread) each draw their own. The
    state is a ``threading.local``, as the handler stack is, so a compiled SVI
    step traces it into its graph; a copy or unpickled module starts afresh.
    """

    def __init__(self) -> None:
        self._state = _CallState()

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return _CallScope, ()

    @property
    def active(self) -> bool:
        """Whether the calling thread is inside a call of the module tree."""
        return self._state.depth > 0

    # enter/leave are called explicitly, in try/finally, not through `with`:
    # dynamo cannot enter a context manager made outside the compiled region.
    def enter(self) -> dict[str, Any] | None:
        """Enters one (possibly nested) call; returns the call's site values."""
        state = self._state
        if state.depth == 0:
            state.values = {}
        state.depth += 1
        return state.values

    def leave(self) -> None:
        """Leaves one call; the outermost forgets the values."""
        state = self._state
        state.depth -= 1
        if state.depth == 0:
            state.values = None


class Module(torch.nn.Module):
    """A ``torch.nn.Module`` whose ``Param``, ``Sample`` and parameter attributes are sites.

    Args:
        name: the prefix of this module's site names when it is the outermost
            module (``""``: bare attribute names). A submodule's prefix is its
            attribute path, set when it is assigned.

    Example:
        >>> import torch, ppl
        >>> from distributions import Normal
        >>> class Regression(ppl.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.linear = ppl.nn.Module[torch.nn.Linear](2, 1)
        ...         self.linear.weight = ppl.nn.Sample(Normal(0.0, 1.0).expand([1, 2]).to_event(2))
        ...     def forward(self, x):
        ...         return self.linear(x).squeeze(-1)
        >>> model = Regression()
        >>> tr = ppl.handlers.trace(model).get_trace(torch.zeros(4, 2))
        >>> [(name, site.type) for name, site in tr.nodes.items() if name != "_RETURN"]
        [('linear.weight', 'sample'), ('linear.bias', 'param')]
        >>> type(model.linear).__name__
        'BayesianLinear'
    """

    def __init__(self, name: str = "") -> None:
        super().__init__()
        self._init_sites(name)

    def _init_sites(self, name: str) -> None:
        object.__setattr__(self, "_ppl_prefix", name)
        object.__setattr__(self, "_ppl_scope", _CallScope())
        object.__setattr__(self, "_ppl_params", {})
        object.__setattr__(self, "_ppl_samples", {})

    def __class_getitem__(cls, torch_class: type) -> type:
        """The subclass of ``torch_class`` and this class (built once, then cached).

        Raises:
            TypeError: when ``torch_class`` is not a ``torch.nn.Module`` class.
        """
        if not (isinstance(torch_class, type) and issubclass(torch_class, torch.nn.Module)):
            raise TypeError(
                f"ppl.nn.Module[...]: expected a torch.nn.Module class such as "
                f"torch.nn.Linear, got {torch_class!r}"
            )
        if issubclass(torch_class, cls):
            return torch_class
        key = (cls, torch_class)
        if key not in _MIXED_CLASSES:
            # The torch class comes first, so its __init__ runs and its own
            # super().__init__() reaches Module.__init__ through the MRO.
            name = f"Bayesian{torch_class.__name__}"

            # The torch class's extra_repr comes first in the MRO: extend it.
            def extra_repr(self: Any) -> str:
                return _with_sites(self, torch_class.extra_repr(self))

            namespace = {"__module__": __name__, "extra_repr": extra_repr}
            mixed = type(name, (torch_class, cls), namespace)
            _MIXED_CLASSES[key] = mixed
            _MIXED_KEYS[mixed] = key
        return _MIXED_CLASSES[key]

    def __reduce_ex__(self, protocol: SupportsIndex) -> Any:
        # A mixed class is not importable by name: pickle (torch.save, deepcopy)
        # records the two classes it is made of and rebuilds it on loading.
        key = _MIXED_KEYS.get(type(self))
        if key is None:
            return super().__reduce_ex__(protocol)
        return _new_mixed, key, self.__getstate__()

    # ------------------------------------------------------------ calling
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        scope = self._ppl_scope
        scope.enter()
        try:
            return super().__call__(*args, **kwargs)
        finally:
            scope.leave()

    def site_name(self, attribute: str) -> str:
        """The site name of ``attribute``: its dotted path from the outermost module.

        Example:
            >>> import ppl
            >>> ppl.nn.Module(name="net").site_name("w")
            'net.w'
        """
        prefix = self._ppl_prefix
        return f"{prefix}.{attribute}" if prefix else attribute

    # -------------------------------------------------- attribute access
    def __getattr__(self, name: str) -> Any:
        state = self.__dict__
        params = state.get("_ppl_params")
        if params is not None:
            if name in params:
                return self._read(name, self._read_param, params[name])
            samples = state["_ppl_samples"]
            if name in samples:
                return self._read(name, self._read_sample, samples[name])
            tensor = state["_parameters"].get(name)
            # A frozen tensor (requires_grad=False) is left to torch: it is not learned.
            if tensor is not None and tensor.requires_grad and state["_ppl_scope"].active:
                return self._read(name, self._read_torch_param, tensor)
        return super().__getattr__(name)

    def _read(self, name: str, reader: Callable[..., Any], spec: Any) -> Any:
        # One value per site and call; outside a call each read is its own call.
        full_name = self.site_name(name)
        scope = self._ppl_scope
        values = scope.enter()
        try:
            if full_name not in values:
                values[full_name] = reader(full_name, spec)
            return values[full_name]
        finally:
            scope.leave()

    @staticmethod
    def _read_param(full_name: str, spec: Any) -> torch.Tensor:
        return primitives.param(
            full_name, spec.init_value, constraint=spec.constraint, event_dim=spec.event_dim
        )

    def _read_sample(self, full_name: str, spec: Any) -> torch.Tensor:
        return primitives.sample(full_name, spec.distribution(self, full_name))

    @staticmethod
    def _read_torch_param(full_name: str, tensor: torch.Tensor) -> torch.Tensor:
        _share_with_store(full_name, tensor)
        return primitives.param(full_name, tensor)

    def __setattr__(self, name: str, value: Any) -> None:
        state = self.__dict__
        if "_ppl_params" not in state:
            return super().__setattr__(name, value)
        if isinstance(value, (Param, Sample)):
            # Whatever held the name before (a parameter, buffer, submodule or plain
            # attribute) would shadow the site: remove it.
            self._forget(name)
            for table in ("_parameters", "_buffers", "_modules"):
                state[table].pop(name, None)
            state.pop(name, None)
            table = state["_ppl_params"] if isinstance(value, Param) else state["_ppl_samples"]
            table[name] = value
            return None
        self._forget(name)
        super().__setattr__(name, value)
        if isinstance(value, torch.nn.Module):
            _adopt(self, name, value)
        return None

    def __delattr__(self, name: str) -> None:
        if name in self.__dict__.get("_ppl_params", {}) or name in self.__dict__.get(
            "_ppl_samples", {}
        ):
            self._forget(name)
            return None
        return super().__delattr__(name)

    def _forget(self, name: str) -> None:
        self._ppl_params.pop(name, None)
        self._ppl_samples.pop(name, None)

    def extra_repr(self) -> str:
        """Lists the ``Param`` and ``Sample`` attributes after torch's own description."""
        return _with_sites(self, super().extra_repr())


def _with_sites(module: Module, description: str) -> str:
    specs = {**module._ppl_params, **module._ppl_samples}
    return ", ".join(
        part for part in [description, *(f"{n}={v!r}" for n, v in specs.items())] if part
    )


def _new_mixed(cls: type[Module], torch_class: type) -> Module:
    # Module[torch_class] builds the mixed class in __class_getitem__, which mypy
    # reads as generic-alias syntax: hence the ignores here and in to_bayesian_.
    mixed = cls[torch_class]  # type: ignore[index]
    return mixed.__new__(mixed)


def _adopt(parent: Module, name: str, child: torch.nn.Module) -> None:
    # Give every ppl module inside `child` its dotted path and the parent's
    # call scope, so site names and the one-draw-per-call cache follow the tree.
    prefix = parent.site_name(name)
    for path, module in child.named_modules():
        if isinstance(module, Module):
            object.__setattr__(module, "_ppl_prefix", f"{prefix}.{path}" if path else prefix)
            object.__setattr__(module, "_ppl_scope", parent._ppl_scope)


def _share_with_store(full_name: str, tensor: torch.Tensor) -> None:
    # The module's own tensor is the parameter the store holds under its name.
    # A different tensor stored there (after ParamStore.load, say) wins by value
    # and is then replaced by the module's tensor, so there is one leaf to train.
    store = get_param_store()
    if full_name not in store:
        return
    stored = store.get_unconstrained(full_name)
    if stored is tensor:
        return
    if stored.shape != tensor.shape:
        raise ValueError(
            f"ppl.nn.Module: parameter '{full_name}' has shape {tuple(tensor.shape)} but the "
            f"parameter store holds one of shape {tuple(stored.shape)} under that name; call "
            f"ppl.clear_param_store() first, or give the module another name (Module(name=...))"
        )
    with torch.no_grad():
        tensor.copy_(store[full_name])
    del store[full_name]


def to_bayesian_(module: torch.nn.Module, name: str = "") -> torch.nn.Module:
    """Turns an existing torch module and all its submodules into ``ppl.nn`` modules, in place.

    Pyro's ``to_pyro_module_``: each submodule's class becomes
    ``Module[its class]``, so its parameters become param sites named by their
    dotted paths and any attribute may then be given a ``Sample`` prior.

    Args:
        module: a ``torch.nn.Module``.
        name: the prefix of the site names (``""``: bare dotted paths).

    Returns:
        ``module``, converted.

    Example:
        >>> import torch, ppl
        >>> from distributions import Normal
        >>> net = to_bayesian_(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Tanh()))
        >>> net[0].bias = ppl.nn.Sample(Normal(0.0, 1.0).expand([2]).to_event(1))
        >>> sorted(ppl.handlers.trace(net).get_trace(torch.ones(2)).nodes)
        ['0.bias', '0.weight', '_RETURN']
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"to_bayesian_: expected a torch.nn.Module, got {type(module).__name__}")
    for submodule in module.modules():
        if not isinstance(submodule, Module):
            submodule.__class__ = Module[type(submodule)]  # type: ignore[misc]
            submodule._init_sites("")  # type: ignore[operator]
    object.__setattr__(module, "_ppl_prefix", name)
    for child_name, child in module.named_children():
        _adopt(module, child_name, child)  # type: ignore[arg-type]  # its class is a mix now
    return module


def method(fn: Callable) -> Callable:
    """Makes a method other than ``forward`` run as one module call (one draw per site).

    Pyro's ``pyro_method``: inside the decorated method, each sample attribute
    is drawn once however often it is read, as inside ``forward``.

    Example:
        >>> import ppl
        >>> from distributions import Normal
        >>> class M(ppl.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.z = ppl.nn.Sample(Normal(0.0, 1.0))
        ...     @ppl.nn.method
        ...     def twice(self):
        ...         return self.z - self.z
        >>> M().twice().item()
        0.0
    """

    @functools.wraps(fn)
    def wrapper(self: Module, *args: Any, **kwargs: Any) -> Any:
        scope = self._ppl_scope
        scope.enter()
        try:
            return fn(self, *args, **kwargs)
        finally:
            scope.leave()

    return wrapper
