"""Log-gamma differences that stay accurate where plain ``lgamma`` differences cancel.

``lgamma(x + d) - lgamma(x)`` for large ``x`` subtracts two numbers of size
``x log x`` to get one of size ``d log x``: in float32 at ``x = 5e7`` the
difference of two rounded ``lgamma`` values is pure noise. Writing ``lgamma``
as Stirling's series plus a small correction,

    lgamma(z) = (z - 1/2) log z - z + log(2 pi) / 2 + c(z),
    c(z) = sum_k B_2k / (2k (2k - 1) z^(2k - 1)),

(Abramowitz & Stegun 1964, 6.1.40) and cancelling the large terms analytically
leaves only well-conditioned pieces (the same device as ``algdiv`` / ``betaln``
of DiDonato & Morris 1992, ACM TOMS 18(3), Algorithm 708).
"""

import math

import torch

__all__ = ["stirling_correction", "log_gamma_ratio", "log_beta", "digamma_difference"]

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)

# B_2k / (2k (2k - 1)) for k = 1..7; at z >= 10 the first omitted term is below 3e-17.
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156)
_SERIES_MIN = 10.0
# B_2k / (2k) for k = 1..7: psi(z) ~ log z - 1/(2z) - sum_k B_2k / (2k z^2k) (A&S 6.3.18).
_DIGAMMA = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)


def _all_below(t, bound):
    """Whether every element of ``t`` is below ``bound`` (one host sync; skips the
    branch that would not be selected, which keeps small-tensor calls cheap)."""
    below = t < bound
    return bool(below) if below.numel() == 1 else bool(below.all())


def _any_below(t, bound):
    below = t < bound
    return bool(below) if below.numel() == 1 else bool(below.any())


def stirling_correction(z):
    """``lgamma(z)`` minus its Stirling approximation ``(z - 1/2) log z - z + log(2 pi)/2``.

    Uses the asymptotic series for ``z >= 10`` and the definition below that,
    where nothing cancels badly. It decays like ``1 / (12 z)``.

    Args:
        z: positive tensor.

    Returns:
        A tensor of the shape and dtype of ``z``.

    Example:
        >>> round(stirling_correction(torch.tensor(100.0, dtype=torch.float64)).item(), 10)
        0.0008333306
    """
    if _all_below(z, _SERIES_MIN):
        return torch.lgamma(z) - ((z - 0.5) * torch.log(z) - z + HALF_LOG_2PI)
    zs = z.clamp(min=_SERIES_MIN)
    r = zs.reciprocal()
    r2 = r * r
    series = _STIRLING[-1] * r2 + _STIRLING[-2]
    for coef in reversed(_STIRLING[:-2]):
        series = series * r2 + coef
    series = series * r
    if not _any_below(z, _SERIES_MIN):
        return series
    direct = torch.lgamma(z) - ((z - 0.5) * torch.log(z) - z + HALF_LOG_2PI)
    return torch.where(z >= _SERIES_MIN, series, direct)


def log_gamma_ratio(x, d):
    """``lgamma(x + d) - lgamma(x)``, accurate for large ``x`` in any float dtype.

    For ``x >= 10`` the Stirling terms are combined as
    ``(x - 1/2) log1p(d / x) + d log(x + d) - d + c(x + d) - c(x)``, which has no
    cancellation; smaller ``x`` uses ``lgamma`` directly.

    Args:
        x: positive tensor.
        d: nonnegative tensor or number, broadcastable with ``x``.

    Returns:
        The log of ``Gamma(x + d) / Gamma(x)``.

    Example:
        >>> x = torch.tensor(5e7)  # float32: lgamma(x + 0.5) - lgamma(x) returns 0.0 here
        >>> round(log_gamma_ratio(x, 0.5).item(), 4)
        8.8638
    """
    d = torch.as_tensor(d, dtype=x.dtype, device=x.device)
    if _all_below(x, _SERIES_MIN):
        return torch.lgamma(x + d) - torch.lgamma(x)
    xs = x.clamp(min=_SERIES_MIN)
    large = (
        (xs - 0.5) * torch.log1p(d / xs)
        + d * torch.log(xs + d)
        - d
        + stirling_correction(xs + d)
        - stirling_correction(xs)
    )
    if not _any_below(x, _SERIES_MIN):
        return large
    small = torch.lgamma(x + d) - torch.lgamma(x)
    return torch.where(x >= _SERIES_MIN, large, small)


def log_beta(a, b):
    """``log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b)`` without cancellation.

    Written as ``lgamma(min) - log_gamma_ratio(max, min)`` so that one large
    parameter does not swamp the result.

    Args:
        a: positive tensor.
        b: positive tensor broadcastable with ``a``.

    Example:
        >>> a = torch.tensor(1e6, dtype=torch.float64)
        >>> round(log_beta(a, torch.tensor(0.5, dtype=torch.float64)).item(), 8)
        -6.33539021
    """
    total = a + b
    if _all_below(total, _SERIES_MIN):  # nothing large enough to cancel
        return torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(total)
    small = torch.minimum(a, b)
    large = torch.maximum(a, b)
    return torch.lgamma(small) - log_gamma_ratio(large, small)


def _digamma_tail(z):
    r2 = z.reciprocal().pow(2)
    tail = torch.full_like(z, _DIGAMMA[-1])
    for coef in reversed(_DIGAMMA[:-1]):
        tail = tail * r2 + coef
    return tail * r2


def digamma_difference(x, d):
    """``digamma(x + d) - digamma(x)``, accurate for large ``x`` in any float dtype.

    For ``x >= 10`` the asymptotic series (A&S 6.3.18) is differenced term by
    term: ``log1p(d / x) + d / (2 x (x + d))`` plus a tail of order ``x^-3``.

    Args:
        x: positive tensor.
        d: nonnegative tensor or number, broadcastable with ``x``.

    Example:
        >>> x = torch.tensor(5e7)  # float32: digamma(x + 0.5) - digamma(x) returns 0.0 here
        >>> round(digamma_difference(x, 0.5).item() * 1e8, 4)
        1.0
    """
    d = torch.as_tensor(d, dtype=x.dtype, device=x.device)
    xs = x.clamp(min=_SERIES_MIN)
    large = (
        torch.log1p(d / xs) + 0.5 * d / (xs * (xs + d)) - _digamma_tail(xs + d) + _digamma_tail(xs)
    )
    small = torch.digamma(x + d) - torch.digamma(x)
    return torch.where(x >= _SERIES_MIN, large, small)
