"""``lift``: turns parameters into random variables drawn from a prior."""

from ppl.runtime import Messenger

__all__ = ["lift"]


class lift(Messenger):
    """Replaces param sites by sample sites drawn from ``prior``.

    ``prior`` is one distribution used for every param, or a dict of param
    name to distribution (params not in it stay params). A param read twice in
    one run gets the same draw, and the second read is hidden from outer
    handlers so a trace records one sample site.

    Args:
        fn: the model.
        prior: a distribution, or a dict of param name to distribution.

    Example:
        >>> import ppl, torch
        >>> from distributions import Normal
        >>> def model():
        ...     return ppl.param("w", torch.tensor(1.0))
        >>> tr = ppl.handlers.trace(lift(model, prior={"w": Normal(0.0, 1.0)})).get_trace()
        >>> tr.nodes["w"]["type"]
        'sample'
    """

    def __init__(self, fn=None, prior=None):
        super().__init__(fn)
        if prior is None:
            raise ValueError(
                "lift: prior= must be a distribution or a dict of name to distribution"
            )
        self.prior = prior
        self._draws = {}

    def __enter__(self):
        self._draws = {}
        return super().__enter__()

    def _prior_for(self, name):
        if isinstance(self.prior, dict):
            return self.prior.get(name)
        return self.prior

    def _process_param(self, msg):
        prior = self._prior_for(msg.name)
        if prior is None:
            return
        if msg.name in self._draws:
            msg.value = self._draws[msg.name]
            msg.done = True
            msg.stop = True
            return
        msg.type = "sample"
        msg.fn = prior
        msg.args = ()
        msg.kwargs = {"sample_shape": ()}
        msg.is_observed = False
        msg.infer = {}
        msg.continuation = self._remember

    def _remember(self, msg):
        self._draws[msg.name] = msg.value
