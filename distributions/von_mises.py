"""``VonMises``: the circular normal distribution on angles."""

import math

import torch

from distributions import constraints
from distributions.distribution import Distribution
from distributions.utils import broadcast_all

__all__ = ["VonMises"]

_LOG_2PI = math.log(2 * math.pi)
# Below this concentration the cdf sums its Fourier series, above it the
# asymptotic expansion; both are accurate to ~1e-15 at the switch.
_CDF_SWITCH = 50.0
_FOURIER_TERMS = 80  # I_n(k) / I_0(k) < 1e-17 for n >= 80 when k < 50
# Term j is ~ j! / (2k)^j of the first near the mode and ~ sin(d/2)^(2j) in the
# tails: 40 terms give float64 relative accuracy for |d| < 1.5 when k >= 50.
_ASYMPTOTIC_TERMS = 40
_ICDF_MAX_STEPS = 60  # bisection alone reaches float64 resolution in ~52


def _bessel_ratio(kappa):
    """``I_1(k) / I_0(k)``, the mean resultant length, in float64."""
    k = kappa.double()
    return torch.special.i1e(k) / torch.special.i0e(k)


def _one_minus_bessel_ratio(kappa):
    """``1 - I_1(k) / I_0(k)`` in float64, free of cancellation for large ``k``.

    For ``k > 1e3`` the ratio is within 1e-3 of one, so the difference loses
    digits; there the asymptotic series ``1/(2k) + 1/(8k^2) + 1/(8k^3) +
    25/(128 k^4)`` (Abramowitz & Stegun 9.7.1) is exact to float64 instead.
    """
    k = kappa.double()
    big = k > 1e3
    kb = torch.where(big, k, 1e3)
    w = 1 / kb
    series = w * (0.5 + w * (0.125 + w * (0.125 + w * (25 / 128))))
    return torch.where(big, series, 1 - _bessel_ratio(torch.where(big, 1.0, k)))


def _proposal(kappa):
    """Best & Fisher's wrapped-Cauchy envelope parameter as ``s = r - 1``.

    ``rho`` is rewritten without the cancellation of ``tau - sqrt(2 tau)`` at
    small ``k``, and ``1 - rho`` without the one near ``rho = 1`` at large
    ``k``; ``r - 1 = (1 - rho)^2 / (2 rho)`` then keeps full precision at both
    ends, which the acceptance step needs (it scales ``r - f`` by ``k``).
    """
    a = torch.hypot(torch.ones_like(kappa), 2 * kappa)  # sqrt(1 + 4 k^2) without overflow
    tau = 1 + a
    root = torch.sqrt(2 * tau)
    rho = 2 * kappa * tau / ((a + 1) * (tau + root))
    one_minus_rho = torch.where(kappa < 1, 1 - rho, (root - 1 - 1 / (2 * kappa + a)) / (2 * kappa))
    return one_minus_rho.square() / (2 * rho)


def _best_fisher_round(kappa, s):
    """One proposal per element: returns the angle offset and its acceptance.

    With ``h = pi u1 / 2``, ``1 - z = 2 sin^2 h`` and ``1 + z = 2 cos^2 h`` give
    ``1 - f = s (1 - z) / (s + 1 + z)`` exactly, so neither the ``k (r - f)``
    test nor ``theta = 2 asin(sqrt((1 - f) / 2))`` cancels.
    """
    u1, u2, u3 = torch.rand((3,) + kappa.shape, dtype=kappa.dtype, device=kappa.device)
    h = (0.5 * math.pi) * u1
    one_minus_f = s * 2 * torch.sin(h).square() / (s + 2 * torch.cos(h).square())
    c = kappa * (s + one_minus_f)
    accept = (c * (2 - c) > u2) | (torch.log(c / u2) + 1 - c >= 0)
    # A NaN parameter (only possible with validation off) accepts at once
    # and yields NaN rather than looping forever.
    accept = accept | c.isnan()
    theta = 2 * torch.asin(torch.sqrt(0.5 * one_minus_f).clamp(max=1.0))
    return torch.where(u3 < 0.5, -theta, theta), accept


def _best_fisher(kappa):
    """Angles ``theta`` in ``[-pi, pi]`` from VonMises(0, kappa) for a flat float64 ``kappa``.

    Best & Fisher (1979), "Efficient simulation of the von Mises
    distribution", Applied Statistics 28(2):152-157. The acceptance rate is
    above 0.65 for every ``k``, so each round redraws only the still-rejected
    elements and the number of rounds grows like ``log(n)``.
    """
    tiny = torch.finfo(torch.float64).tiny
    # k -> 0 is the uniform law and the envelope stays finite at k = tiny;
    # negative k (validation off) becomes NaN instead of an endless loop.
    kappa = torch.where(kappa < 0, math.nan, kappa.clamp(min=tiny, max=1e300))
    s = _proposal(kappa)
    theta = torch.zeros_like(kappa)
    pending = torch.arange(kappa.numel(), device=kappa.device)
    while pending.numel():
        draw, ok = _best_fisher_round(kappa[pending], s[pending])
        theta = theta.index_put((pending[ok],), draw[ok])
        pending = pending[~ok]
    return theta


def _wrap(x):
    """Maps angles into ``[-pi, pi)``."""
    wrapped = torch.remainder(x + math.pi, 2 * math.pi) - math.pi
    # remainder can round up to 2 pi exactly for inputs just below a multiple.
    return torch.where(wrapped >= math.pi, wrapped - 2 * math.pi, wrapped)


def _cdf_fourier(d, kappa):
    """``F(d)`` on ``[-pi, pi]`` from ``1/2 + d/(2 pi) + sum_n I_n/I_0 sin(n d)/(pi n)``.

    The Bessel ratios come from the backward recurrence
    ``I_n / I_{n-1} = 1 / (2n/k + I_{n+1} / I_n)`` nested Horner-style, as in
    Hill (1977), "Algorithm 518: Incomplete Bessel function I0. The von Mises
    distribution", ACM TOMS 3(3):279-284.
    """
    ratio = torch.zeros_like(d)
    acc = torch.zeros_like(d)
    for n in range(_FOURIER_TERMS, 0, -1):
        ratio = 1 / (2 * n / kappa + ratio)
        acc = ratio * (torch.sin(n * d) / n + acc)
    return 0.5 + d / (2 * math.pi) + acc / math.pi


def _cdf_asymptotic(d, kappa):
    """``F(d)`` on ``[-pi, pi]`` for large ``k`` from Gaussian moment integrals.

    With ``v = sin(d/2)`` the density in ``v`` is ``exp(-2k v^2) / sqrt(1 - v^2)``
    over ``pi I_0(k) e^{-k}``; expanding ``(1 - v^2)^(-1/2) = sum_j c_j v^(2j)``
    with ``c_j = binom(2j, j) / 4^j`` leaves ``Q_j(s) = int_{-inf}^s e^{-t^2} t^(2j)
    dt`` at ``s = sqrt(2k) v``, which integration by parts steps up as
    ``Q_{j+1} = (j + 1/2) Q_j - s^(2j+1) e^{-s^2} / 2`` from ``Q_0 = sqrt(pi)
    erfc(-s) / 2``. For ``s < 0`` every step adds, so the lower tail keeps its
    relative accuracy (for ``|d| < 1.5``; beyond, where ``F < e^{-k}``, the
    accuracy is absolute); for ``s > 0`` the steps amplify rounding by at
    most 2 in all. Dropping ``|v| > 1`` costs ``O(e^{-2k})``, nothing at ``k >= 50``.
    This is the large-``k`` regime that Hill (1977) treats with a normal
    approximation; the expansion here is exact to float64 instead.
    """
    s = torch.sqrt(2 * kappa) * torch.sin(0.5 * d)
    q = (0.5 * math.sqrt(math.pi)) * torch.special.erfc(-s)
    edge = 0.5 * s * torch.exp(-s.square())  # s^(2j+1) e^(-s^2) / 2 at j = 0
    scale = (2 * kappa).rsqrt()  # (2k)^-(j + 1/2) at j = 0
    coef, total = 1.0, torch.zeros_like(d)
    for j in range(_ASYMPTOTIC_TERMS):
        total = total + coef * q * scale
        q = (j + 0.5) * q - edge
        edge, scale = edge * s.square(), scale / (2 * kappa)
        coef *= (2 * j + 1) / (2 * j + 2)
    return total / (math.pi * torch.special.i0e(kappa))


def _cdf_centred(d, kappa):
    """``F(d) = P(-pi < X < d)`` for VonMises(0, kappa) and ``d`` in ``[-pi, pi]``."""
    small = kappa < _CDF_SWITCH
    # Each branch sees a harmless kappa where it is not used, so no NaN from
    # the other branch leaks into gradients through torch.where.
    fourier = _cdf_fourier(d, torch.where(small, kappa, 1.0))
    asymptotic = _cdf_asymptotic(d, torch.where(small, _CDF_SWITCH, kappa))
    return torch.where(small, fourier, asymptotic)


def _cdf(x, loc, kappa):
    """The cdf in float64, unwrapped: ``F(x + 2 pi) = F(x) + 1``, ``F(loc) = 1/2``."""
    delta = x - loc
    turns = torch.round(delta / (2 * math.pi))
    return _cdf_centred(delta - 2 * math.pi * turns, kappa) + turns


def _density_centred(d, kappa):
    return torch.exp(-2 * kappa * torch.sin(0.5 * d).square() - _LOG_2PI) / torch.special.i0e(kappa)


def _icdf_centred(q, kappa):
    """Solves ``F(d) = q`` on ``[-pi, pi]``: Newton on ``log F`` inside a bisection bracket.

    By symmetry (``F(-d) = 1 - F(d)``) only the lower half ``[-pi, 0]`` is
    searched, where ``F`` is accurate relative to its size, so ``log F`` is
    nearly linear in the tails and Newton converges in a few steps from the
    large-``k`` normal law of ``2 sqrt(k) sin(d/2)`` (the uniform law for
    ``k < 1``). A step that leaves the bracket becomes a bisection, so every
    element converges.
    """
    upper = q > 0.5
    p = torch.where(upper, 1 - q, q)
    with torch.no_grad():
        k, p0 = kappa.detach(), p.detach()
        gauss = 2 * torch.asin((torch.special.ndtri(p0) / (2 * k.sqrt())).clamp(min=-1))
        d = torch.where(k < 1, 2 * math.pi * (p0 - 0.5), gauss).clamp(-math.pi, 0)
        lo, hi = torch.full_like(d, -math.pi), torch.zeros_like(d)
        for _ in range(_ICDF_MAX_STEPS):
            f = _cdf_centred(d, k)
            lo, hi = torch.where(f < p0, d, lo), torch.where(f > p0, d, hi)
            step = d - (f.log() - p0.log()) * f / _density_centred(d, k)
            new = torch.where((step >= lo) & (step <= hi), step, 0.5 * (lo + hi))
            new = torch.where(p0 > 0, new, -math.pi)
            done = bool(((new - d).abs() <= 1e-15 * (1 + d.abs())).all())
            d = new
            if done:
                break
    # A zero-valued Newton correction outside no_grad carries the implicit
    # gradients dd/dq = 1/f and dd/dk = -(dF/dk)/f without differentiating the loop.
    f = _density_centred(d, kappa).detach().clamp(min=torch.finfo(d.dtype).tiny)
    correction = -(_cdf_centred(d, kappa) - p) / f
    d = d + (correction - correction.detach())
    return torch.where(upper, -d, d)


class VonMises(Distribution):
    """Density ``exp(k cos(x - loc)) / (2 pi I_0(k))`` on angles (von Mises 1918).

    ``loc`` and values may be any real numbers and are read modulo ``2 pi``:
    ``log_prob`` is periodic, samples lie in ``[-pi, pi)`` like torch's, and
    ``mean``/``variance`` are the circular ones (``variance = 1 - I_1/I_0``).
    Bessel functions are exponentially scaled (``log I_0(k) = log i0e(k) + k``)
    so that large concentrations stay finite.

    ``cdf`` follows ``scipy.stats.vonmises``: it integrates the density from
    ``loc - pi``, so ``cdf(loc) = 1/2``, and it grows by one per full turn
    (``cdf(x + 2 pi) = cdf(x) + 1``), which makes it the antiderivative of the
    density on the whole real line. ``icdf`` inverts it onto ``[loc - pi, loc + pi]``.

    Args:
        loc: the mean direction, an angle in radians.
        concentration: ``k``, positive; ``1 / k`` is about the variance of the
            angle for large ``k``.
        validate_args: see :class:`Distribution`.

    Example:
        >>> d = VonMises(torch.tensor(0.0), torch.tensor(2.0))
        >>> round(d.cdf(torch.tensor(0.0)).item(), 6), round(d.variance.item(), 4)
        (0.5, 0.3022)
    """

    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args=None):
        self.loc, self.concentration = broadcast_all(loc, concentration)
        super().__init__(self.loc.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        names = ("loc", "concentration")
        return self._expand_params(VonMises, batch_shape, _instance, names)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return _one_minus_bessel_ratio(self.concentration).to(self.concentration.dtype)

    def entropy(self):
        # log(2 pi I_0) - k I_1/I_0 = log(2 pi i0e(k)) + k (1 - I_1/I_0), no cancellation.
        k = self.concentration
        h = _LOG_2PI + torch.log(torch.special.i0e(k.double())) + k * _one_minus_bessel_ratio(k)
        return h.to(k.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        k = self.concentration
        # k (cos(x - loc) - 1) as -2 k sin^2, exact near the mode at any k.
        return -2 * k * torch.sin(0.5 * (value - self.loc)).square() - (
            _LOG_2PI + torch.log(torch.special.i0e(k))
        )

    @torch.no_grad()
    def sample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        # float64 throughout: at small k the float32 acceptance test can stall.
        kappa = self.concentration.double().expand(shape).reshape(-1)
        theta = _best_fisher(kappa).reshape(shape)
        return _wrap(theta + self.loc.double()).to(self.loc.dtype)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        dtype = torch.promote_types(value.dtype, self.loc.dtype)
        f = _cdf(value.double(), self.loc.double(), self.concentration.double())
        return f.to(dtype)

    def icdf(self, value):
        """The angle in ``[loc - pi, loc + pi]`` where :meth:`cdf` equals ``value``.

        Probabilities outside ``[0, 1]`` give NaN.
        """
        dtype = torch.promote_types(value.dtype, self.loc.dtype)
        q, loc, kappa = broadcast_all(
            value.double(), self.loc.double(), self.concentration.double()
        )
        d = _icdf_centred(q.clamp(0, 1), kappa)
        return torch.where((q >= 0) & (q <= 1), loc + d, math.nan).to(dtype)
