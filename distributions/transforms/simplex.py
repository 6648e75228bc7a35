"""Maps from unconstrained vectors onto the probability simplex."""

import torch
import torch.nn.functional as F

from distributions import constraints
from distributions.transforms.base import Transform

__all__ = ["SoftmaxTransform", "StickBreakingTransform"]


def _check_vector(name, shape):
    if len(shape) < 1:
        raise ValueError(f"{name}: expected at least one dim (the vector dim), got shape ()")


class SoftmaxTransform(Transform):
    """``y = exp(x) / sum(exp(x))`` along the last dim.

    Softmax is invariant to adding a constant to ``x``, so it is not injective:
    its inverse ``log(y)`` is one preimage, and there is no log-det-Jacobian (use
    :class:`StickBreakingTransform` for a bijection onto the simplex).

    Example:
        >>> SoftmaxTransform()(torch.zeros(4))
        tensor([0.2500, 0.2500, 0.2500, 0.2500])
    """

    domain = constraints.real_vector
    codomain = constraints.simplex

    def __eq__(self, other):
        return isinstance(other, SoftmaxTransform)

    def _call(self, x):
        return x.softmax(-1)

    def _inverse(self, y):
        return y.log()

    def log_abs_det_jacobian(self, x, y):
        raise NotImplementedError(
            "SoftmaxTransform is not injective (softmax(x + c) == softmax(x)), so its "
            "Jacobian is singular; use StickBreakingTransform for densities on the simplex"
        )

    def forward_shape(self, shape):
        _check_vector("SoftmaxTransform", shape)
        return shape

    def inverse_shape(self, shape):
        _check_vector("SoftmaxTransform", shape)
        return shape


def _offsets(x):
    """``log(K-1), log(K-2), ..., log(1)`` for ``K - 1 = x.shape[-1]``.

    Shifting the logits by these makes ``x = 0`` map to the simplex's centre.
    """
    n = x.shape[-1]
    return torch.arange(n, 0, -1, dtype=x.dtype, device=x.device).log()


class StickBreakingTransform(Transform):
    """Bijection from ``R^(K-1)`` onto the ``K``-simplex by stick breaking.

    ``z_i = sigmoid(x_i - log(K - 1 - i))`` is the fraction of the stick left
    after the first ``i`` pieces that piece ``i`` takes:
    ``y_i = z_i * prod_{j<i} (1 - z_j)`` and the last piece takes the rest. This
    is the construction of Stan's simplex transform (Stan Reference Manual,
    "Unit simplex"); the Jacobian is triangular, so
    ``log|det| = sum_i log y_i + log(1 - z_i)``. ``z`` and ``1 - z`` come from
    separate sigmoids and pieces are kept at least the smallest normal float,
    so the inverse of a forward image has finite logs even where ``z`` rounds
    to 0 or 1.

    Example:
        >>> StickBreakingTransform()(torch.zeros(3))
        tensor([0.2500, 0.2500, 0.2500, 0.2500])
    """

    domain = constraints.real_vector
    codomain = constraints.simplex
    bijective = True

    def __eq__(self, other):
        return isinstance(other, StickBreakingTransform)

    def _call(self, x):
        # z and 1 - z each from its own sigmoid: both accurate where z rounds to 0
        # or 1 (a z clipped below 1 mapped x = 41 back to 17 in float32). Only a
        # piece below the smallest normal float is raised to it, so that every
        # piece and every tail sum keeps a finite log.
        shifted = x - _offsets(x)
        left = F.pad(torch.sigmoid(-shifted).cumprod(-1), [1, 0], value=1.0)
        pieces = F.pad(torch.sigmoid(shifted), [0, 1], value=1.0) * left
        return pieces.clamp(min=torch.finfo(x.dtype).tiny)

    def _inverse(self, y):
        head = y[..., :-1]
        # The stick left after piece i is the sum of the later pieces; summing the
        # tail avoids the cancellation in 1 - cumsum(head) when little is left.
        rest = y.flip(-1).cumsum(-1).flip(-1)[..., 1:]
        rest = rest.clamp(min=torch.finfo(y.dtype).tiny)
        return head.log() - rest.log() + _offsets(head)

    def log_abs_det_jacobian(self, x, y):
        # log(1 - z_i) = logsigmoid(-(x_i - offset_i)) = -softplus(x_i - offset_i)
        return (y[..., :-1].log() - F.softplus(x - _offsets(x))).sum(-1)

    def forward_shape(self, shape):
        _check_vector("StickBreakingTransform", shape)
        return shape[:-1] + (shape[-1] + 1,)

    def inverse_shape(self, shape):
        _check_vector("StickBreakingTransform", shape)
        if shape[-1] < 1:
            raise ValueError(
                f"StickBreakingTransform: a simplex needs at least one entry, got shape "
                f"{tuple(shape)}"
            )
        return shape[:-1] + (shape[-1] - 1,)
