"""The continued fraction of the incomplete beta function, with one directional derivative.

``I_x(a, b) = x^a (1-x)^b / (a B(a, b)) * h`` with
``h = 1 / (1 + d1/(1 + d2/(1 + ...)))`` and the coefficients of Abramowitz &
Stegun (1964) 26.5.8. The fraction is evaluated forward by the three-term
recurrence of its convergents ``A_n / B_n`` (Wallis; Press et al., Numerical
Recipes 3rd ed. 2007, section 5.2), rescaled now and then so nothing
overflows. That costs a third of the full-size tensor operations of the
modified Lentz algorithm (no divisions, hence no guards against dividing by
zero), which is what decides the speed of a batched backward pass: a
Dirichlet gradient over 300,000 coordinates runs the loop once for all of
them.

Derivatives of ``log h`` along a tangent of ``(a, b)`` are carried through the
same recurrence in forward mode (the approach of Boik & Robison-Cox 1998,
"Derivatives of the incomplete beta function", J. Stat. Software 3(1)).
"""

import torch

__all__ = ["continued_fraction"]

_TOL = 1e-14  # relative change of h over one check interval; rounding noise is ~1e-15
_MAX_ITER = 3000
_CHECK_EVERY = 3  # iterations between convergence tests (each test costs ~20 operations)


def _coefficients_differentiable(a, ab, b, x, m, ta, tb):
    """:func:`_coefficients` without in-place operations, for a graph autograd records.

    A backward pass with ``create_graph=True`` (second derivatives of
    ``betainc``) differentiates through the recurrence, and autograd refuses a
    tensor it saved being overwritten.
    """
    am, abm, a2m = a + m, ab + m, a + 2 * m
    r0, r1, r2 = a2m.reciprocal(), (a2m + 1).reciprocal(), (a2m + 2).reciprocal()
    odd = -(am * abm * x * r0 * r1)
    even_over_b = x * r1 * r2 * (m + 1)
    bm = b - (m + 1)
    even = even_over_b * bm
    if ta is None:
        return odd, even, None, None
    dodd = odd * (ta * (am.reciprocal() - r0 - r1) + abm.reciprocal())
    deven = even_over_b * (tb - ta * bm * (r1 + r2))
    return odd, even, dodd, deven


def _coefficients(a, ab, b, x, m, ta, tb):
    """The ``m``-th odd and even coefficients and, given ``ta``, their derivatives.

    ``ta`` is 1 where the derivative is taken in ``a`` and 0 where in ``b``
    (one tangent direction per element), ``tb = 1 - ta`` and ``ab = a + b``.
    Temporaries are reused in place: a fresh full-size tensor costs several
    times the arithmetic on it (its pages are new to the process).
    """
    am, abm, a2m = a + m, ab + m, a + 2 * m
    r1, r2 = (a2m + 1).reciprocal_(), (a2m + 2).reciprocal_()
    r0 = a2m.reciprocal_()
    odd = (am * abm).mul_(x).mul_(r0).mul_(r1).neg_()
    even_over_b = (x * r1).mul_(r2).mul_(m + 1)
    bm = b - (m + 1)
    even = even_over_b * bm
    if ta is None:
        return odd, even, None, None
    # d log odd = ta (1/(a+m) - 1/(a+2m) - 1/(a+2m+1)) + 1/(a+b+m)
    dodd = am.reciprocal_().sub_(r0).sub_(r1).mul_(ta).add_(abm.reciprocal_()).mul_(odd)
    # d even = (tb - ta (b-m-1) (1/(a+2m+1) + 1/(a+2m+2))) even / (b-m-1)
    deven = r1.add_(r2).mul_(bm).mul_(ta).neg_().add_(tb).mul_(even_over_b)
    return odd, even, dodd, deven


class _Fraction:
    """The live elements' parameters and convergents ``A_{n-1}, A_n, B_{n-1}, B_n``, tangents."""

    def __init__(self, live, a, b, x, ta):
        self.live, self.a, self.b, self.x, self.ab, self.ta = live, a, b, x, a + b, ta
        self.tb = 1 - ta if ta is not None else None
        one, zero = torch.ones_like(x), torch.zeros_like(x)
        self.values = [one, one.clone(), zero, one.clone()]  # A_{-1}, A_0, B_{-1}, B_0
        self.tangents = [zero.clone() for _ in range(4)] if ta is not None else None
        self.previous = (one, zero)  # (f, d log f) at the last check
        inputs = (a, b, x) + ((ta,) if ta is not None else ())
        self.recorded = torch.is_grad_enabled() and any(t.requires_grad for t in inputs)
        self.written = torch.zeros(x.shape, dtype=torch.bool, device=x.device)

    def iterate(self, m):
        coefficients = _coefficients_differentiable if self.recorded else _coefficients
        odd, even, dodd, deven = coefficients(self.a, self.ab, self.b, self.x, m, self.ta, self.tb)
        self._step(odd, dodd)
        self._step(even, deven)

    def _step(self, coef, dcoef):
        # X_n = X_{n-1} + coef X_{n-2}, written over X_{n-2} (no new tensors)
        # unless autograd records the graph.
        a1, a0, b1, b0 = self.values
        if self.tangents is not None:
            da1, da0, db1, db0 = self.tangents
            if self.recorded:
                da1, db1 = da0 + coef * da1 + dcoef * a1, db0 + coef * db1 + dcoef * b1
            else:
                da1.mul_(coef).add_(da0).addcmul_(dcoef, a1)
                db1.mul_(coef).add_(db0).addcmul_(dcoef, b1)
            self.tangents = [da0, da1, db0, db1]
        if self.recorded:
            a1, b1 = a0 + coef * a1, b0 + coef * b1
        else:
            a1.mul_(coef).add_(a0)
            b1.mul_(coef).add_(b0)
        self.values = [a0, a1, b0, b1]

    def check(self):
        """Rescales, and returns ``(settled, f, d log f)`` at the latest convergent."""
        # B_{n-1} and B_n are never both 0 (that would make every B zero).
        scale = (self.values[2].abs() + self.values[3].abs()).reciprocal()
        if self.recorded:
            self.values = [t * scale for t in self.values]
            self.tangents = [t * scale for t in self.tangents] if self.tangents else None
        else:
            for t in self.values + (self.tangents or []):
                t.mul_(scale)
        _, a0, _, b0 = self.values
        f, (f_prev, dlog_prev) = a0 / b0, self.previous
        settled = (f - f_prev).abs() <= _TOL * f.abs()
        dlog_f = None
        if self.tangents is not None:
            dlog_a, dlog_b = self.tangents[1] / a0, self.tangents[3] / b0
            dlog_f = dlog_a - dlog_b
            # The derivative can keep moving after the value has settled (a
            # terminating fraction such as b = 1), so it has its own test,
            # relative to the rounding of the difference it is formed from.
            noise = 1 + dlog_a.abs() + dlog_b.abs()
            settled &= (dlog_f - dlog_prev).abs() <= _TOL * noise
        self.previous = (f, dlog_f)
        return settled, f, dlog_f

    def keep(self, index):
        """Keeps the elements at ``index`` (one gather per tensor, not a boolean mask each)."""
        for name in ("live", "a", "b", "x", "ab", "ta", "tb", "written"):
            if getattr(self, name) is not None:
                setattr(self, name, getattr(self, name).index_select(0, index))
        self.values = [t.index_select(0, index) for t in self.values]
        if self.tangents is not None:
            self.tangents = [t.index_select(0, index) for t in self.tangents]
        self.previous = tuple(
            t.index_select(0, index) if t is not None else None for t in self.previous
        )


def continued_fraction(a, b, x, ta=None, skip=None):
    """``h`` and, given tangent weights ``ta``, ``d log h`` along ``ta d/da + (1 - ta) d/db``.

    Converges quickly for ``x < (a + 1) / (a + b + 2)``; the number of terms
    grows like ``sqrt(max(a, b))``, so callers send large parameters elsewhere
    (Temme's expansion). Every few iterations converged elements are set
    aside, so a few slow elements do not make the whole batch slow. Elements
    where ``skip`` is True (answered elsewhere) get ``h = 1`` at once; an empty
    or fully skipped batch returns without iterating.

    Args:
        a, b, x: float64 tensors (broadcastable).
        ta: optional float64 tensor of 0s and 1s: 1 for ``d/da``, 0 for ``d/db``.
        skip: optional bool tensor.

    Returns:
        ``(h, d log h)``, the second ``None`` without ``ta``.

    Example:
        >>> t = lambda v: torch.tensor(v, dtype=torch.float64)
        >>> h, _ = continued_fraction(t(1.0), t(1.0), t(0.25))  # I_x(1, 1) = x, so h = 1 / (1 - x)
        >>> round(h.item(), 12)
        1.333333333333
    """
    tangent = ta is not None
    tensors = torch.broadcast_tensors(a, b, x, *((ta,) if tangent else ()))
    shape = tensors[0].shape
    flat = [t.reshape(-1) for t in tensors]
    h, dlog_h = torch.ones_like(flat[2]), (torch.zeros_like(flat[2]) if tangent else None)
    live = torch.arange(h.numel(), device=h.device)
    if skip is not None and bool(skip.any()):
        live = live[~torch.broadcast_to(skip, shape).reshape(-1)]
        flat = [t[live] for t in flat]
    if live.numel() > 0:
        _run(_Fraction(live, *flat[:3], flat[3] if tangent else None), h, dlog_h)
    return h.reshape(shape), (dlog_h.reshape(shape) if tangent else None)


def _run(frac, h, dlog_h):
    """Iterates until every element has settled (or the cap), writing into ``h``, ``dlog_h``.

    An element's answer is written at the first check where it has settled, so
    it depends on that element alone, never on the batch it came in (the count
    icdf relies on bit-equal cdf values at exact steps). Settled elements are
    set aside once they are an eighth of the live ones: gathering the state
    costs about an iteration, and iterating a settled element is harmless.
    """
    for m in range(_MAX_ITER):
        frac.iterate(m)
        last = m == _MAX_ITER - 1
        if m % _CHECK_EVERY != _CHECK_EVERY - 1 and not last:
            continue
        done, f, dlog_f = frac.check()
        new = ~frac.written if last else done & ~frac.written
        if bool(new.any()):
            index = new.nonzero()[:, 0]
            target = frac.live.index_select(0, index)
            h[target] = f.index_select(0, index).reciprocal()
            if dlog_h is not None:
                dlog_h[target] = -dlog_f.index_select(0, index)
            frac.written |= new
        n_written = int(frac.written.sum())
        if n_written == done.numel():
            return
        if n_written * 8 >= done.numel():
            frac.keep((~frac.written).nonzero()[:, 0])
