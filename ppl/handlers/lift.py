"""``lift``: turns parameters into random variables drawn from a prior."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch

from distributions import Distribution
from ppl.runtime import Message, Messenger

__all__ = ["lift"]


def _is_distribution(value: object) -> bool:
    return isinstance(value, (Distribution, torch.distributions.Distribution))


class lift(Messenger):
    """Replaces param sites by sample sites drawn from ``prior``.

    ``prior`` is one prior used for every param, or a dict of param name to
    prior (params not in it stay params). A prior is, as in Pyro:

    * a distribution: the param becomes a sample site of that distribution;
    * a function returning a distribution (built when the param is read, so it
      may depend on the program's state): likewise;
    * a stochastic function, one that calls :func:`ppl.sample` and returns a
      value: its value replaces the param, its own sample sites are recorded
      and the param site itself is hidden from the handlers outside.

    A function is called with no arguments when it takes none; otherwise as
    Pyro calls it, with the param's initial value and its ``constraint`` and
    ``event_dim`` keywords (or just the initial value). A param read twice in
    one run gets the same value, and the second read is hidden from outer
    handlers so a trace records one site.

    Args:
        fn: the model.
        prior: a prior as above, or a dict of param name to prior.

    Raises:
        TypeError: when a prior is neither a distribution nor a function, or a
            function returns something else than a distribution or a tensor.

    Example:
        >>> import ppl, torch
        >>> from distributions import Normal
        >>> def model():
        ...     return ppl.param("w", torch.tensor(1.0))
        >>> tr = ppl.handlers.trace(lift(model, prior={"w": Normal(0.0, 1.0)})).get_trace()
        >>> tr.nodes["w"]["type"]
        'sample'
        >>> hierarchical = {"w": lambda: Normal(ppl.sample("m", Normal(0.0, 1.0)), 1.0)}
        >>> list(ppl.handlers.trace(lift(model, prior=hierarchical)).get_trace().nodes)
        ['m', 'w', '_RETURN']
    """

    def __init__(self, fn: Callable[..., Any] | None = None, prior: Any = None) -> None:
        super().__init__(fn)
        if prior is None:
            raise ValueError(
                "lift: prior= must be a distribution, a function returning one (or a "
                "stochastic function), or a dict of param name to such priors"
            )
        for name, value in prior.items() if isinstance(prior, dict) else [(None, prior)]:
            if not (_is_distribution(value) or callable(value)):
                where = "prior=" if name is None else f"prior[{name!r}]"
                raise TypeError(
                    f"lift: {where} must be a distribution or a function (returning a "
                    f"distribution, or calling ppl.sample), got {type(value).__name__}"
                )
        self.prior = prior
        self._draws: dict[str, Any] = {}

    def __enter__(self) -> lift:
        self._draws = {}
        return super().__enter__()

    def _prior_for(self, name: str) -> Any:
        if isinstance(self.prior, dict):
            return self.prior.get(name)
        return self.prior

    def _process_param(self, msg: Message) -> None:
        prior = self._prior_for(msg.name)
        if prior is None:
            return
        if msg.name in self._draws:
            self._fix(msg, self._draws[msg.name])
            return
        if not _is_distribution(prior):
            prior = _call_prior(prior, msg)
            if not _is_distribution(prior):
                # A stochastic function: its sample sites were recorded as it
                # ran; its value stands in for the param, which stays hidden.
                self._draws[msg.name] = prior
                self._fix(msg, prior)
                return
        msg.type = "sample"
        msg.fn = prior
        msg.args = ()
        msg.kwargs = {"sample_shape": ()}
        msg.is_observed = False
        msg.infer = {}
        msg.continuation = self._remember

    @staticmethod
    def _fix(msg: Message, value: Any) -> None:
        msg.value = value
        msg.done = True
        msg.stop = True

    def _remember(self, msg: Message) -> None:
        self._draws[msg.name] = msg.value


def _call_prior(prior: Callable[..., Any], msg: Message) -> Any:
    init_value = msg.args[1] if len(msg.args) > 1 else None
    constraint, event_dim = msg.kwargs.get("constraint"), msg.kwargs.get("event_dim")
    # Pyro passes the param's arguments; a function taking none gets none.
    calls = [
        ((), {}),
        ((init_value,), {"constraint": constraint, "event_dim": event_dim}),
        ((init_value,), {}),
    ]
    try:
        signature = inspect.signature(prior)
    except (TypeError, ValueError):  # a builtin without a signature: call it bare
        signature = None
    for args, kwargs in calls:
        if signature is None or _binds(signature, args, kwargs):
            result = prior(*args, **kwargs)
            break
    else:
        raise TypeError(
            f"lift: the prior function for param '{msg.name}' takes arguments lift cannot "
            f"give: {signature}; it is called with no arguments, or as Pyro calls it, "
            "(init_value, constraint=..., event_dim=...)"
        )
    if _is_distribution(result) or isinstance(result, torch.Tensor):
        return result
    if isinstance(result, (int, float)) and not isinstance(result, bool):
        return torch.as_tensor(result, dtype=torch.get_default_dtype())
    raise TypeError(
        f"lift: the prior function for param '{msg.name}' returned {type(result).__name__}; "
        "expected a distribution (to sample the param from) or a tensor (the value of a "
        "stochastic function)"
    )


def _binds(signature: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    try:
        signature.bind(*args, **kwargs)
    except TypeError:
        return False
    return True
