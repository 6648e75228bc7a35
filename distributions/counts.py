"""Numerics shared by the count distributions (Poisson, Binomial, NegativeBinomial).

Quantiles: the smallest ``k`` with ``cdf(k) >= q``, elementwise. A
normal-approximation guess is widened into an integer bracket
``cdf(lo) < q <= cdf(hi)`` by exponential search, then halved by bisection,
every element at once; the cost is a few dozen cdf evaluations whatever the
counts.

Entropy: ``-sum_k pmf(k) log pmf(k)`` summed over doubling blocks of ``k``
until a geometric bound on the rest is negligible, where that sum is short;
where the law is wide and nearly normal (variance at least 1e4, squared
skewness at most 1e-4) the Edgeworth expansion of the entropy replaces the
sum, so the cost does not grow with the parameters.
"""

import math

import torch

from distributions.utils import broadcast_shape

__all__ = [
    "count_entropy",
    "count_icdf",
    "edgeworth_entropy",
    "integer_quantile",
    "near_normal",
    "normal_guess",
    "poisson_draws",
    "smooth_tail_entropy",
]

# Exponential search doubles its step at most this often before giving up on a
# bracket (a quantile so close to 1 that the cdf never reaches it in the dtype).
_MAX_DOUBLINGS = 64
# Bisection halves a float64 integer bracket; past 2^53 halving stops making
# progress, so the loop is capped rather than trusted to end.
_MAX_BISECTIONS = 128
# Where the Edgeworth entropy replaces the sum: its first omitted term is of
# order skewness^6 (below 1e-12 here), and the lattice's own correction to a
# smooth density's entropy is of order exp(-2 pi^2 variance), nil.
_EDGEWORTH_MIN_VARIANCE = 1e4
_EDGEWORTH_MAX_SKEW2 = 1e-4
# Above this rate Poisson draws come from the Cornish-Fisher expansion instead of
# torch.poisson, which returns -2^63 (int64 overflow) past about 9.2e18.
_CORNISH_FISHER_RATE = 1e16


def poisson_draws(rate):
    """Poisson variates at ``rate`` (any shape and float dtype), inside the support at every rate.

    Up to 1e16 this is ``torch.poisson`` (exact). Above, a standard normal ``z``
    is mapped through the Cornish-Fisher expansion of the Poisson quantile to
    its first correction, ``rate + sqrt(rate) z + (z^2 - 1) / 6`` (the count
    whose continuity-corrected cdf is ``Phi(z)``), rounded to an integer. The
    first omitted term is of order ``z^3 / sqrt(rate)`` counts,
    below 1e-7 of a count here, so it moves a draw across an integer with
    probability of about that order. Only elementwise ops, so ``torch.vmap``
    batches it.

    Example:
        >>> x = poisson_draws(torch.tensor([0.0, 3.0, 1e30], dtype=torch.float64))
        >>> x[0].item(), bool((x >= 0).all()), abs(x[2].item() / 1e30 - 1) < 1e-12
        (0.0, True, True)
    """
    big = rate > _CORNISH_FISHER_RATE
    exact = torch.poisson(torch.where(big, 0.0, rate))
    # In the rate's dtype: past 1e16 the float spacing near the rate (2 in
    # float64, 1e9 in float32) dwarfs the rounding of these few operations.
    z = torch.randn_like(rate)
    approx = (rate + rate.sqrt() * z + (z * z - 1) / 6).round().clamp(min=0)
    return torch.where(big, approx, exact)


def near_normal(variance, skewness):
    """Where :func:`edgeworth_entropy` is used instead of the sum over the support."""
    return (variance >= _EDGEWORTH_MIN_VARIANCE) & (skewness.pow(2) <= _EDGEWORTH_MAX_SKEW2)


def edgeworth_entropy(variance, skewness, excess_kurtosis):
    """The entropy of a wide, nearly normal law from its first four cumulants.

    ``H = log(2 pi e sigma^2) / 2 - J`` with the negentropy
    ``J = g1^2 / 12 + g2^2 / 48 + 7 g1^4 / 48 - g1^2 g2 / 8`` (skewness ``g1``,
    excess kurtosis ``g2``), from the Edgeworth expansion of the density
    (Comon 1994, "Independent component analysis, a new concept?", Signal
    Processing 36(3), eq. A.17). For Poisson(lambda) it reproduces the known
    series ``log(2 pi e lambda) / 2 - 1 / (12 lambda) - 1 / (24 lambda^2)``;
    the error is of order ``g1^6``.

    Example:
        >>> lam = torch.tensor(1e4, dtype=torch.float64)
        >>> round(edgeworth_entropy(lam, lam.rsqrt(), 1 / lam).item(), 10)
        6.0241003854
    """
    g1sq = skewness.pow(2)
    negentropy = g1sq / 12 + excess_kurtosis.pow(2) / 48 + 7 * g1sq.pow(2) / 48
    negentropy = negentropy - g1sq * excess_kurtosis / 8
    return 0.5 * torch.log(2 * math.pi * math.e * variance) - negentropy


def count_icdf(dist, value, dtype, reaches, top=math.inf):
    """``dist.icdf(value)`` for a count distribution on ``0, 1, ..., top``.

    Checks ``value`` (with validation on), answers ``q = 0`` (0) and ``q = 1``
    (``top``) directly, searches the rest from a normal guess built from
    ``dist.mean`` and ``dist.variance``, and caps the result at ``top`` (which
    also answers point masses, whose cdf may be undefined in closed form).

    Args:
        dist: the distribution (for its name, batch shape, moments, validation).
        value: probabilities in ``[0, 1]``.
        dtype: the dtype of the result.
        reaches: ``(k, q) -> cdf(k) >= q`` for float64 integers ``k``.
        top: the largest value of the support per element (``inf`` if unbounded).

    Raises:
        ValueError: with validation on, for values outside ``[0, 1]``.
    """
    q = torch.as_tensor(value, dtype=dtype)
    if dist._validate_args and not bool(((q >= 0) & (q <= 1)).all()):
        raise ValueError(
            f"{type(dist).__name__}.icdf: value must be a probability in [0, 1], got a tensor "
            f"of shape {tuple(q.shape)} with min {q.min().item()} and max {q.max().item()}"
        )
    q = q.expand(broadcast_shape(q.shape, dist.batch_shape))
    # The ends are answered directly; searching for q = 1 would run to huge k.
    inner = torch.where((q <= 0) | (q >= 1), 0.5, q)
    guess, step = normal_guess(inner, dist.mean, dist.variance)
    exact = integer_quantile(reaches, inner, guess, step)
    k = exact.to(dtype)
    # Past 2^24 (float32) the nearest float can be below the quantile, whose cdf
    # is then short of q: round up to the next float instead.
    k = torch.where(k.double() < exact, torch.nextafter(k, torch.full_like(k, math.inf)), k)
    top = torch.as_tensor(top, dtype=dtype).expand(q.shape)
    k = torch.minimum(torch.where(q >= 1, top, k), top)
    return torch.where(q <= 0, torch.zeros_like(k), k)


def normal_guess(q, mean, variance):
    """A first guess ``mean + z sd`` (``z`` the normal quantile of ``q``) and a step of ``sd``.

    Both are float64 integers of ``q``'s shape; NaN (e.g. an infinite variance)
    falls back to 0 and 1.

    Example:
        >>> g, s = normal_guess(torch.tensor([0.5]), torch.tensor(10.0), torch.tensor(4.0))
        >>> g.tolist(), s.tolist()
        ([10.0], [2.0])
    """
    z = torch.special.ndtri(q.clamp(0.01, 0.99))
    sd = variance.sqrt()
    guess = (mean + z * sd).double().floor().clamp(min=0)
    step = sd.double().ceil().clamp(min=1).expand(q.shape)
    return guess.nan_to_num(0.0, 0.0, 0.0), step.nan_to_num(1.0, 1.0, 1.0)


def integer_quantile(reaches, q, guess, step):
    """The smallest integer ``k >= 0`` with ``reaches(k, q)``; ``inf`` where none is found.

    Args:
        reaches: ``(k, q) -> bool tensor``, ``cdf(k) >= q`` for float64 integers
            ``k`` (False for ``k < 0``), non-decreasing in ``k``.
        q: probabilities strictly inside ``(0, 1)``.
        guess: float64 starting integers of ``q``'s shape.
        step: positive float64 first step sizes of ``q``'s shape.

    Returns:
        A float64 tensor of ``q``'s shape.

    Example:
        >>> cdf = lambda k: 1 - 0.5 ** (k + 1)  # Geometric(1/2) on 0, 1, ...
        >>> reaches = lambda k, q: (k >= 0) & (cdf(k) >= q)
        >>> q = torch.tensor([0.4, 0.5, 0.9], dtype=torch.float64)
        >>> integer_quantile(reaches, q, torch.zeros(3, dtype=torch.float64),
        ...                  torch.ones(3, dtype=torch.float64)).tolist()
        [0.0, 0.0, 3.0]
    """
    lo, hi = _bracket(reaches, q, guess, step)
    return _bisect(reaches, q, lo, hi)


def _bracket(reaches, q, guess, step):
    """Integers with ``cdf(lo) < q <= cdf(hi)`` by exponential search from the guess."""
    above = reaches(guess, q)
    lo = torch.where(above, guess - step, guess).clamp(min=-1)
    hi = torch.where(above, guess, guess + step)
    for _ in range(_MAX_DOUBLINGS):
        lo_low = ~reaches(lo, q)
        hi_high = reaches(hi, q)
        if bool((lo_low & hi_high).all()):
            break
        step = step * 2
        # A failed end becomes the other end (still a valid bound there) and moves on.
        new_lo = torch.where(hi_high, torch.where(lo_low, lo, lo - step), hi)
        hi = torch.where(hi_high, torch.where(lo_low, hi, lo), hi + step)
        lo = new_lo.clamp(min=-1)
    # Quantiles the cdf never reaches in this dtype (q within rounding of 1) are inf.
    hi = torch.where(reaches(hi, q), hi, math.inf)
    return lo, hi


def _bisect(reaches, q, lo, hi):
    """Halves ``(lo, hi]`` until ``hi = lo + 1``; ``hi`` is then the quantile."""
    finite = hi.isfinite()
    lo = torch.where(finite, lo, 0.0)
    top = torch.where(finite, hi, 1.0)
    for _ in range(_MAX_BISECTIONS):
        if not bool(((top - lo) > 1).any()):
            break
        mid = ((lo + top) / 2).floor()
        reach = reaches(mid, q)
        top = torch.where(reach, mid, top)
        lo = torch.where(reach, lo, mid)
    return torch.where(finite, top, hi)


def count_entropy(log_pmf, ratio, mode, shape):
    """``-sum_k pmf(k) log pmf(k)`` over ``k = 0, 1, ...``, in float64.

    Past the mode the pmf ratio ``rho_k = pmf(k + 1) / pmf(k)`` is below 1 and
    does not grow, so after a block ending at ``K`` the rest of the sum is at
    most ``pmf(K) (|log pmf(K)| + 1) rho / (1 - rho)^2`` (a geometric tail
    bound). Blocks double in length until that bound is below 1e-16 of the
    running total for every element (or the support has ended: ``log pmf`` is
    ``-inf``).

    Args:
        log_pmf: ``k -> log pmf(k)`` for a float64 column ``k`` of shape
            ``(m,) + (1,) * len(shape)``, returning ``(m,) + shape``.
        ratio: ``k -> pmf(k + 1) / pmf(k)`` for a float64 scalar tensor ``k``.
        mode: a mode per element, shape ``shape``.
        shape: the batch shape.

    Example:
        >>> import math
        >>> rate = torch.tensor([2.0], dtype=torch.float64)
        >>> h = count_entropy(
        ...     lambda k: k * rate.log() - rate - torch.lgamma(k + 1),
        ...     lambda k: rate / (k + 1), rate.floor(), rate.shape)
        >>> round(h.item(), 6)  # Poisson(2)
        1.704883
    """
    total = torch.zeros(shape, dtype=torch.float64)
    start, size = 0, 1024
    while True:
        k = torch.arange(start, start + size, dtype=torch.float64).view((-1,) + (1,) * len(shape))
        lp = log_pmf(k)
        total = total - (lp.exp() * lp.masked_fill(lp == -math.inf, 0.0)).sum(0)
        end, last = k[-1], lp[-1]
        rho = ratio(end.reshape(()))
        bound = last.exp() * (last.abs() + 1) * rho / (1 - rho).clamp(min=0).pow(2)
        settled = (end > mode) & (rho < 1) & (bound <= 1e-16 * total.abs().clamp(min=1))
        if bool((settled | (last == -math.inf)).all()):
            return total
        start, size = start + size, 2 * size


# Panels of the tail quadrature: Gauss-Legendre nodes per panel, and a cap on the
# panel count (far above the few hundred the callers' bounds need).
_PANEL_NODES = 16
_MAX_PANELS = 4096
_LEGENDRE = {}


def _gauss_legendre(n, dtype):
    """Nodes and weights of ``n``-point Gauss-Legendre on [-1, 1] (Golub & Welsch 1969)."""
    if (n, dtype) not in _LEGENDRE:
        k = torch.arange(1, n, dtype=torch.float64)
        beta = k / (4 * k.pow(2) - 1).sqrt()
        nodes, vectors = torch.linalg.eigh(torch.diag(beta, 1) + torch.diag(beta, -1))
        _LEGENDRE[(n, dtype)] = nodes.to(dtype), (2 * vectors[0].pow(2)).to(dtype)
    return _LEGENDRE[(n, dtype)]


def smooth_tail_entropy(log_pmf, start, scale, end):
    """``-sum_{k >= start} pmf(k) log pmf(k)`` for a pmf smooth in ``k`` from ``start`` on.

    The sum becomes an integral by the midpoint Euler-Maclaurin formula,
    ``sum_{k >= M} f(k) = int_{M - 1/2}^inf f + f'(M - 1/2) / 24 + O(f''')``,
    with ``f'`` from the difference ``f(M) - f(M - 1)``. The integral runs over
    panels of 16-point Gauss-Legendre: each panel is as wide as its left end (so
    a power law near ``start`` is resolved) up to ``scale``, the width on which
    the pmf varies, and then ``scale`` wide until ``end``, past which the pmf is
    negligible. The cost is a few hundred panels per element whatever the
    number of terms.

    Args:
        log_pmf: ``x -> log pmf(x)`` for real ``x`` of shape ``(m,) + shape``
            (the pmf's smooth continuation), returning the same shape.
        start: the first count ``M`` of the tail, a positive Python int.
        scale: positive float64 widths of shape ``shape``.
        end: float64 counts of shape ``shape`` where the tail may stop.

    Example:
        >>> q = torch.tensor([1e-6], dtype=torch.float64)  # Geometric(q) from k = 1
        >>> lp = lambda k: k * torch.log1p(-q) + q.log()
        >>> head = -q * q.log()
        >>> h = head + smooth_tail_entropy(lp, 1, 1 / q, 60 / q)
        >>> exact = -(q * q.log() + (1 - q) * torch.log1p(-q)) / q
        >>> bool(((h - exact).abs() / exact < 1e-12).all())
        True
    """
    edges = [torch.full_like(scale, start - 0.5)]
    while len(edges) <= _MAX_PANELS and not bool((edges[-1] >= end).all()):
        left = edges[-1]
        edges.append(left + torch.minimum(left, scale))
    a, b = torch.stack(edges[:-1]), torch.stack(edges[1:])
    nodes, weights = _gauss_legendre(_PANEL_NODES, scale.dtype)
    node_shape = (-1,) + (1,) * a.dim()
    x = (a + b) / 2 + (b - a) / 2 * nodes.view(node_shape)
    f = _neg_p_log_p(log_pmf(x.flatten(0, 1)).view(x.shape))
    integral = ((b - a) / 2 * (weights.view(node_shape) * f).sum(0)).sum(0)
    ends = torch.tensor([start - 1.0, start], dtype=scale.dtype)
    at = _neg_p_log_p(log_pmf(ends.view((2,) + (1,) * scale.dim()).expand((2,) + scale.shape)))
    return integral + (at[1] - at[0]) / 24


def _neg_p_log_p(lp):
    return -(lp.exp() * lp.masked_fill(lp == -math.inf, 0.0))
