"""Elementwise bijections: exp, power, sigmoid, tanh, softplus, abs and affine maps.

Each log-det is the log of the derivative, written to stay finite in the
tails: ``log sigmoid'(x) = -softplus(-x) - softplus(x)`` and
``log tanh'(x) = 2 (log 2 - x - softplus(-2x))`` never form ``1 - y`` from a
saturated ``y``.
"""

import math
import numbers

import torch
import torch.nn.functional as F

from distributions import constraints
from distributions.transforms.base import Transform
from distributions.utils import broadcast_shape

__all__ = [
    "AbsTransform",
    "AffineTransform",
    "ExpTransform",
    "PowerTransform",
    "SigmoidTransform",
    "SoftplusTransform",
    "TanhTransform",
]


class _Stateless(Transform):
    """A parameter-free transform: all instances are equal."""

    def __eq__(self, other):
        return type(other) is type(self)


class ExpTransform(_Stateless):
    """``y = exp(x)``.

    Example:
        >>> ExpTransform().inv(torch.tensor(1.0))
        tensor(0.)
    """

    domain = constraints.real
    codomain = constraints.positive
    bijective = True
    sign = +1

    def _call(self, x):
        return x.exp()

    def _inverse(self, y):
        return y.log()

    def log_abs_det_jacobian(self, x, y):
        return x


class PowerTransform(Transform):
    """``y = x ** exponent`` on the positive reals.

    Args:
        exponent: a number or tensor (broadcast against ``x``); nonzero.
        cache_size: see :class:`Transform`.

    Example:
        >>> PowerTransform(2.0)(torch.tensor(3.0))
        tensor(9.)
    """

    domain = constraints.positive
    codomain = constraints.positive
    bijective = True

    def __init__(self, exponent, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.exponent = torch.as_tensor(exponent, dtype=_float_dtype(exponent))

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return PowerTransform(self.exponent, cache_size=cache_size)

    @property
    def sign(self):
        return self.exponent.sign()

    def __eq__(self, other):
        if not isinstance(other, PowerTransform):
            return False
        return bool(self.exponent.eq(other.exponent).all())

    def _call(self, x):
        return x.pow(self.exponent)

    def _inverse(self, y):
        return y.pow(1 / self.exponent)

    def log_abs_det_jacobian(self, x, y):
        # d/dx x^p = p x^(p-1); from log x rather than p y / x, which is inf or 0
        # where y over- or underflows though the log-derivative is finite.
        return self.exponent.abs().log() + (self.exponent - 1) * x.log()

    def forward_shape(self, shape):
        return broadcast_shape(shape, self.exponent.shape)

    def inverse_shape(self, shape):
        return broadcast_shape(shape, self.exponent.shape)

    def __repr__(self):
        return f"{type(self).__name__}(exponent={self.exponent})"


def _clipped_sigmoid(x):
    """Sigmoid kept strictly inside (0, 1) so its logit and log stay finite."""
    finfo = torch.finfo(x.dtype)
    return x.sigmoid().clamp(min=finfo.tiny, max=1.0 - finfo.eps)


class SigmoidTransform(_Stateless):
    """``y = 1 / (1 + exp(-x))``, clipped to stay strictly inside (0, 1).

    Example:
        >>> SigmoidTransform()(torch.tensor(0.0))
        tensor(0.5000)
    """

    domain = constraints.real
    codomain = constraints.unit_interval
    bijective = True
    sign = +1

    def _call(self, x):
        return _clipped_sigmoid(x)

    def _inverse(self, y):
        finfo = torch.finfo(y.dtype)
        y = y.clamp(min=finfo.tiny, max=1.0 - finfo.eps)
        return y.log() - (-y).log1p()

    def log_abs_det_jacobian(self, x, y):
        return -F.softplus(-x) - F.softplus(x)


class TanhTransform(_Stateless):
    """``y = tanh(x)``; the inverse clamps ``y`` into the open interval (-1, 1).

    Example:
        >>> TanhTransform().inv(torch.tensor(1.0)).isfinite()
        tensor(True)
    """

    domain = constraints.real
    codomain = constraints.interval(-1.0, 1.0)
    bijective = True
    sign = +1

    def _call(self, x):
        return x.tanh()

    def _inverse(self, y):
        eps = torch.finfo(y.dtype).eps
        return y.clamp(min=-1.0 + eps, max=1.0 - eps).atanh()

    def log_abs_det_jacobian(self, x, y):
        return 2.0 * (math.log(2.0) - x - F.softplus(-2.0 * x))


class SoftplusTransform(_Stateless):
    """``y = log(1 + exp(x))``.

    Example:
        >>> t = SoftplusTransform()
        >>> round(t.inv(t(torch.tensor(-3.0))).item(), 4)
        -3.0
    """

    domain = constraints.real
    codomain = constraints.positive
    bijective = True
    sign = +1

    def _call(self, x):
        return F.softplus(x)

    def _inverse(self, y):
        # log(exp(y) - 1) = y + log(1 - exp(-y)), which does not overflow for large y.
        return y + (-torch.expm1(-y)).log()

    def log_abs_det_jacobian(self, x, y):
        return -F.softplus(-x)


class AbsTransform(_Stateless):
    """``y = |x|``; not injective, its inverse picks the nonnegative preimage.

    Example:
        >>> AbsTransform()(torch.tensor(-2.0))
        tensor(2.)
    """

    domain = constraints.real
    codomain = constraints.positive

    def _call(self, x):
        return x.abs()

    def _inverse(self, y):
        return y

    def log_abs_det_jacobian(self, x, y):
        # |d|x|/dx| = 1 away from 0.
        return torch.zeros_like(x)


class AffineTransform(Transform):
    """``y = loc + scale * x``, optionally over ``event_dim`` rightmost dims.

    Args:
        loc: a number or tensor.
        scale: a number or tensor; nonzero for invertibility.
        event_dim: how many rightmost dims form one event (their log-dets are summed).
        cache_size: see :class:`Transform`.

    Example:
        >>> t = AffineTransform(1.0, 2.0)
        >>> t(torch.tensor(3.0)), round(t.log_abs_det_jacobian(3.0, 7.0).item(), 4)
        (tensor(7.), 0.6931)
    """

    bijective = True

    def __init__(self, loc, scale, event_dim=0, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.loc = loc
        self.scale = scale
        self._event_dim = event_dim

    @property
    def event_dim(self):
        return self._event_dim

    @property
    def domain(self):
        if self._event_dim == 0:
            return constraints.real
        return constraints.independent(constraints.real, self._event_dim)

    @property
    def codomain(self):
        return self.domain

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return AffineTransform(self.loc, self.scale, self._event_dim, cache_size=cache_size)

    def __eq__(self, other):
        if not isinstance(other, AffineTransform) or self._event_dim != other._event_dim:
            return False
        return _same(self.loc, other.loc) and _same(self.scale, other.scale)

    @property
    def sign(self):
        if isinstance(self.scale, numbers.Real):
            return (self.scale > 0) - (self.scale < 0)
        return self.scale.sign()

    def _call(self, x):
        return self.loc + self.scale * x

    def _inverse(self, y):
        return (y - self.loc) / self.scale

    def log_abs_det_jacobian(self, x, y):
        x = torch.as_tensor(x)
        if isinstance(self.scale, numbers.Real):
            result = torch.full_like(x, math.log(abs(self.scale)))
        else:
            result = self.scale.abs().log()
        n = self._event_dim
        batch_shape = x.shape[: x.dim() - n]
        if n:
            result = result.expand(broadcast_shape(result.shape, x.shape))
            result = result.reshape(result.shape[: result.dim() - n] + (-1,)).sum(-1)
        return result.expand(broadcast_shape(result.shape, batch_shape))

    def forward_shape(self, shape):
        return broadcast_shape(shape, _shape(self.loc), _shape(self.scale))

    def inverse_shape(self, shape):
        return broadcast_shape(shape, _shape(self.loc), _shape(self.scale))

    def __repr__(self):
        name = type(self).__name__
        return f"{name}(loc={self.loc}, scale={self.scale}, event_dim={self._event_dim})"


def _float_dtype(value):
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.dtype
    return torch.get_default_dtype()


def _shape(value):
    return value.shape if isinstance(value, torch.Tensor) else torch.Size()


def _same(a, b):
    if isinstance(a, numbers.Number) and isinstance(b, numbers.Number):
        return a == b
    return bool(torch.as_tensor(a).eq(torch.as_tensor(b)).all())
