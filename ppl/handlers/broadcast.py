"""``broadcast``: expands distributions over their enclosing vectorized plates."""

from __future__ import annotations

from ppl.plate import broadcast_to_frame
from ppl.runtime import Message, Messenger

__all__ = ["broadcast"]


class broadcast(Messenger):
    """Expands each sample site's distribution to the sizes of its vectorized plates.

    ``ppl.plate`` already broadcasts the sites inside it, so this handler
    matters for frames added by other handlers (or plates entered further
    out than a ``block``); on sites already broadcast it does nothing.

    Args:
        fn: the model.

    Example:
        >>> import ppl
        >>> from distributions import Normal
        >>> with ppl.plate("data", 3):
        ...     x = broadcast(lambda: ppl.sample("x", Normal(0.0, 1.0)))()
        >>> x.shape
        torch.Size([3])
    """

    def _process_sample(self, msg: Message) -> None:
        for frame in msg.cond_indep_stack:
            if frame.vectorized:
                broadcast_to_frame(msg, frame)
