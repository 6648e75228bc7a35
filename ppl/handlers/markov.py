"""``markov``: declares that a chain's steps depend only on the last few steps.

Inside ``for t in markov(range(T)):`` a site of step ``t`` may depend on the
sites of steps ``t - history .. t``, and on nothing older. The ``enum``
handler uses this to recycle enumeration dims: a variable that has left every
window it belongs to cannot share a tensor with a new one, so its dim is free
again. An HMM of any length then needs ``history + 1`` enumeration dims.

The window is recorded on each sample site as ``infer["_markov_scope"]`` (a
``Counter`` of the names in view, counting the markov contexts in which they
are in view) and ``infer["_markov_depth"]`` (how many markov contexts enclose
the site). A name is in view of a site exactly when its count equals the
depth recorded for that name, i.e. it is in view in every markov context it
belongs to. This is the bookkeeping Pyro's ``markov`` uses (Obermeyer et al.
2019, "Tensor Variable Elimination for Plated Factor Graphs", ICML).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from typing import Any

from ppl.runtime import Message, Messenger

__all__ = ["markov"]


class markov(Messenger):
    """A Markov context: a handler, a decorator and an iterator wrapper.

    ``for t in markov(range(T))`` opens one nested step per iteration (all
    closed when the loop ends); ``with markov():`` opens a single step, and
    ``@markov`` on a recursive function makes each call a step.

    Args:
        fn: a model to run as one step, or an iterable to wrap (then the
            object is iterated).
        history: how many previous steps a step may depend on (0 makes steps
            independent of each other, 1 is a first-order chain).
        keep: keep the sites of a closed step in view of later steps at the
            same depth (a branching process whose siblings share ancestors).

    Raises:
        ValueError: when ``history`` is not a non-negative int.

    Example:
        >>> import torch, ppl
        >>> from distributions import Categorical
        >>> def chain():
        ...     x = 0
        ...     for t in markov(range(3)):
        ...         x = ppl.sample(f"x_{t}", Categorical(torch.ones(2) / 2))
        >>> tr = ppl.handlers.trace(chain).get_trace()
        >>> sorted(tr.nodes["x_2"].infer["_markov_scope"])
        ['x_1']
    """

    def __init__(
        self,
        fn: Callable[..., Any] | Iterable[Any] | None = None,
        history: int = 1,
        keep: bool = False,
    ) -> None:
        if not isinstance(history, int) or isinstance(history, bool) or history < 0:
            raise ValueError(
                f"markov: history must be a non-negative int (1 for a first-order chain), "
                f"got {history!r}"
            )
        self._iterable = None
        if fn is not None and not callable(fn):
            self._iterable, fn = fn, None
        super().__init__(fn)
        self.history = history
        self.keep = keep
        self._pos = -1
        self._steps: list[set[str]] = []  # one set of site names per open step, outermost first
        self._entered = 0

    def __iter__(self) -> Iterator[Any]:
        if self._iterable is None:
            raise TypeError(
                "markov: nothing to iterate; wrap an iterable, e.g. for t in markov(range(T))"
            )
        with ExitStack() as stack:
            for value in self._iterable:
                stack.enter_context(self)
                yield value

    def __enter__(self) -> markov:
        # Re-entrant: the handler sits on the stack once however many steps are open,
        # so a chain of T steps costs one handler call per site, not T.
        self._pos += 1
        if len(self._steps) <= self._pos:
            self._steps.append(set())
        self._entered += 1
        if self._entered == 1:
            return super().__enter__()
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        if not self.keep:
            self._steps.pop()
        self._pos -= 1
        self._entered -= 1
        if self._entered == 0:
            return super().__exit__(exc_type, exc_value, traceback)
        return None

    def _process_sample(self, msg: Message) -> None:
        scope = msg.infer.get("_markov_scope")
        if scope is None:
            scope = msg.infer["_markov_scope"] = Counter()
        for pos in range(max(0, self._pos - self.history), self._pos + 1):
            scope.update(self._steps[pos])
        msg.infer["_markov_depth"] = 1 + msg.infer.get("_markov_depth", 0)
        self._steps[self._pos].add(msg.name)
