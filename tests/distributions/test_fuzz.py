"""Property fuzzing of every exported family and every transform with hypothesis.

Parameters come from unconstrained draws pushed through ``transform_to`` of
each argument's constraint, in regimes from moderate to tiny, huge and the
edge of float range, in float32 and float64, with broadcasting and zero-size
batches. Properties: no hang (a per-example alarm), no exception but a clear
``ValueError`` / ``NotImplementedError``, draws of the right shape inside the
support, finite ``log_prob`` of the family's own draws, ``cdf(icdf(u)) ~ u``
where both exist, and ``expand`` consistent with broadcasting.

The suite runs a fixed, derandomized budget (a few seconds); ``make fuzz``
sets ``DIST_FUZZ=1`` for a long randomized run.
"""

import contextlib
import math
import os
import signal

import pytest
import torch
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

import distributions as D
from distributions import constraints, transform_to
from distributions import transforms as T

_LONG = os.environ.get("DIST_FUZZ") == "1"
_SETTINGS = settings(
    max_examples=300 if _LONG else 6,
    derandomize=not _LONG,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    # No shrinking in the suite: a failure reports its draws at once (shrinking a
    # tensor-valued case took minutes); the long run shrinks.
    phases=tuple(Phase) if _LONG else [Phase.explicit, Phase.reuse, Phase.generate],
)
# Per example; today's slowest family answers in well under a second.
_ALARM_S = 20
_ALLOWED = (ValueError, NotImplementedError)
K = 3  # categories / event size of the vector families

# Unconstrained offsets and spreads: moderate, wide, tiny and huge after exp,
# and the edge where float32 saturates (sigmoid(+-80) rounds to 0 or 1).
_REGIMES = {
    "moderate": (0.0, 1.0),
    "wide": (0.0, 15.0),
    "tiny": (-40.0, 1.0),
    "huge": (40.0, 1.0),
    "edge_low": (-80.0, 0.0),
    "edge_high": (80.0, 0.0),
}


@contextlib.contextmanager
def alarm(seconds):
    def fail(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _unconstrained(data, shape, dtype):
    regime = data.draw(st.sampled_from(sorted(_REGIMES)), label="regime")
    offset, spread = _REGIMES[regime]
    seed = data.draw(st.integers(0, 2**16), label="seed")
    g = torch.Generator().manual_seed(seed)
    return offset + spread * torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)


def _param(data, constraint, batch, suffix, dtype):
    """A valid parameter of batch ``batch`` (or broadcast ``()``) and event ``suffix``."""
    shape = data.draw(st.sampled_from([batch, ()]), label="broadcast") + suffix
    if constraint is constraints.lower_cholesky or constraint is constraints.positive_definite:
        u = _unconstrained(data, shape[:-2] + (K * (K + 1) // 2,), dtype)
        tril = T.LowerCholeskyTransform()(D.utils.vec_to_tril_matrix(u.clamp(-20, 20)))
        if constraint is constraints.positive_definite:
            return tril @ tril.transpose(-1, -2) + 1e-3 * torch.eye(K, dtype=dtype)
        return tril
    if constraint is constraints.simplex:
        return transform_to(constraint)(_unconstrained(data, shape[:-1] + (K - 1,), dtype))
    return transform_to(constraint)(_unconstrained(data, shape, dtype))


R, P, U = constraints.real, constraints.positive, constraints.unit_interval


def _binary(cls, extra=()):
    """Families built from probs or logits (plus ``extra`` named parameters)."""

    def build(data, batch, dtype):
        kwargs = {n: _param(data, c, batch, (), dtype) for n, c in extra}
        if data.draw(st.booleans(), label="from_probs"):
            kwargs["probs"] = _param(data, U, batch, (), dtype)
        else:
            kwargs["logits"] = _param(data, R, batch, (), dtype)
        return cls(**kwargs)

    return build


def _plain(cls, *params, suffix=()):
    def build(data, batch, dtype):
        return cls(*(_param(data, c, batch, suffix, dtype) for c in params))

    return build


def _count(cls, float_count=False):
    def build(data, batch, dtype):
        if float_count:
            n = _param(data, P, batch, (), dtype)
        else:
            n = data.draw(st.sampled_from([0, 1, 5, 100, 10**6]), label="total_count")
        if data.draw(st.booleans(), label="from_probs"):
            c = constraints.half_open_interval(0.0, 1.0) if float_count else U
            return cls(n, probs=_param(data, c, batch, (), dtype))
        return cls(n, logits=_param(data, R, batch, (), dtype))

    return build


def _categorical(cls):
    def build(data, batch, dtype):
        if data.draw(st.booleans(), label="from_probs"):
            return cls(probs=_param(data, constraints.simplex, batch, (K,), dtype))
        return cls(logits=_param(data, R, batch, (K,), dtype))

    return build


def _uniform(data, batch, dtype):
    low = _param(data, R, batch, (), dtype)
    return D.Uniform(low, low + _param(data, P, batch, (), dtype))


def _multinomial(data, batch, dtype):
    n = data.draw(st.sampled_from([0, 1, 7, 1000]), label="total_count")
    return D.Multinomial(n, probs=_param(data, constraints.simplex, batch, (K,), dtype))


def _mvn(data, batch, dtype):
    loc = _param(data, R, batch, (K,), dtype)
    return D.MultivariateNormal(
        loc, scale_tril=_param(data, constraints.lower_cholesky, batch, (K, K), dtype)
    )


def _lowrank(data, batch, dtype):
    loc = _param(data, R, batch, (K,), dtype)
    factor = _param(data, R, batch, (K, 2), dtype).clamp(-1e3, 1e3)
    return D.LowRankMultivariateNormal(loc, factor, _param(data, P, batch, (K,), dtype))


def _wishart(data, batch, dtype):
    df = K - 1 + _param(data, P, batch, (), dtype)
    return D.Wishart(df, scale_tril=_param(data, constraints.lower_cholesky, batch, (K, K), dtype))


def _relaxed_categorical(data, batch, dtype):
    temperature = _param(data, P, (), (), dtype)
    return D.RelaxedOneHotCategorical(
        temperature, probs=_param(data, constraints.simplex, batch, (K,), dtype)
    )


FAMILIES = {
    "Normal": _plain(D.Normal, R, P),
    "Cauchy": _plain(D.Cauchy, R, P),
    "Laplace": _plain(D.Laplace, R, P),
    "Gumbel": _plain(D.Gumbel, R, P),
    "LogNormal": _plain(D.LogNormal, R, P),
    "HalfNormal": _plain(D.HalfNormal, P),
    "HalfCauchy": _plain(D.HalfCauchy, P),
    "Exponential": _plain(D.Exponential, P),
    "Gamma": _plain(D.Gamma, P, P),
    "InverseGamma": _plain(D.InverseGamma, P, P),
    "Chi2": _plain(D.Chi2, P),
    "Beta": _plain(D.Beta, P, P),
    "Kumaraswamy": _plain(D.Kumaraswamy, P, P),
    "Weibull": _plain(D.Weibull, P, P),
    "Pareto": _plain(D.Pareto, P, P),
    "Uniform": _uniform,
    "StudentT": _plain(D.StudentT, P, R, P),
    "FisherSnedecor": _plain(D.FisherSnedecor, P, P),
    "VonMises": _plain(D.VonMises, R, P),
    "GeneralizedPareto": _plain(D.GeneralizedPareto, R, P, R),
    "ContinuousBernoulli": _binary(D.ContinuousBernoulli),
    "Bernoulli": _binary(D.Bernoulli),
    "Geometric": _binary(D.Geometric),
    "RelaxedBernoulli": _binary(D.RelaxedBernoulli, [("temperature", P)]),
    "LogitRelaxedBernoulli": _binary(D.LogitRelaxedBernoulli, [("temperature", P)]),
    "Binomial": _count(D.Binomial),
    "NegativeBinomial": _count(D.NegativeBinomial, float_count=True),
    "Poisson": _plain(D.Poisson, constraints.nonnegative),
    "Categorical": _categorical(D.Categorical),
    "OneHotCategorical": _categorical(D.OneHotCategorical),
    "OneHotCategoricalStraightThrough": _categorical(D.OneHotCategoricalStraightThrough),
    "Multinomial": _multinomial,
    "Dirichlet": _plain(D.Dirichlet, P, suffix=(K,)),
    "LogisticNormal": _plain(D.LogisticNormal, R, P, suffix=(K,)),
    "MultivariateNormal": _mvn,
    "LowRankMultivariateNormal": _lowrank,
    "Wishart": _wishart,
    "LKJCholesky": lambda data, batch, dtype: D.LKJCholesky(K, _param(data, P, batch, (), dtype)),
    "RelaxedOneHotCategorical": _relaxed_categorical,
}


def test_every_exported_family_is_fuzzed():
    wrappers = {
        "Distribution", "ExponentialFamily", "Independent", "TransformedDistribution", "Delta",
        "Unit", "MaskedDistribution", "ExpandedDistribution", "MixtureSameFamily",
    }  # fmt: skip
    exported = {
        n
        for n in D.__all__
        if isinstance(getattr(D, n), type) and issubclass(getattr(D, n), D.Distribution)
    }
    assert exported - wrappers == set(FAMILIES)


def _finite_params(d):
    tensors = [v for v in vars(d).values() if isinstance(v, torch.Tensor) and v.is_floating_point()]
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def _build(name, data):
    torch.manual_seed(data.draw(st.integers(0, 2**16), label="torch seed"))
    dtype = data.draw(st.sampled_from([torch.float32, torch.float64]), label="dtype")
    batch = data.draw(st.sampled_from([(), (0,), (4,), (2, 1)]), label="batch")
    try:
        d = FAMILIES[name](data, batch, dtype)
    except _ALLOWED:
        assume(False)
    assume(_finite_params(d))
    return d


def _check_draws(d):
    try:
        x = d.sample((2,))
    except NotImplementedError:
        return None
    assert x.shape == (2,) + d.batch_shape + d.event_shape
    if d.support is not None and not constraints.is_dependent(d.support):
        assert bool(d.support.check(x).all()), f"draws outside {d.support}"
    lp = d.log_prob(x)
    assert lp.shape == (2,) + d.batch_shape
    assert bool(torch.isfinite(lp).all()), f"log_prob of own draws: {lp}"
    return x


def _check_quantiles(d):
    u = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64).view((3,) + (1,) * len(d.batch_shape))
    try:
        q = d.icdf(u.to(_dtype(d)))
        back = d.cdf(q)
    except NotImplementedError:
        return
    target = u.to(back.dtype).expand_as(back)
    if d.support.is_discrete:
        assert bool((back >= target - 1e-6).all())
        return
    # A law narrower than the float spacing at q jumps across u between the
    # neighbouring floats: u must lie within the cdf over [q-, q+].
    below = d.cdf(torch.nextafter(q, torch.full_like(q, -math.inf)))
    above = d.cdf(torch.nextafter(q, torch.full_like(q, math.inf)))
    ok = (below - 1e-3 <= target) & (target <= above + 1e-3) | ~torch.isfinite(q)
    assert bool(ok.all()), f"cdf(icdf(u)) = {back}"


def _dtype(d):
    for v in vars(d).values():
        if isinstance(v, torch.Tensor) and v.is_floating_point():
            return v.dtype
    return torch.get_default_dtype()


def _check_expand(d, x):
    wide = d.expand((2,) + d.batch_shape)
    assert wide.batch_shape == (2,) + d.batch_shape
    if x is not None:
        xw = x[:1].expand((2,) + x.shape[1:])
        want = d.log_prob(x[:1]).expand((2,) + d.batch_shape)
        torch.testing.assert_close(wide.log_prob(xw), want, equal_nan=True)


# What the fuzzer found and is not yet mended (listed in the report of issue 16);
# each still runs (a fix shows up as XPASS) except where a run takes minutes.
KNOWN = {
    "Beta": "both concentrations near 1e34: cdf(icdf(u)) off, the law is narrower than a "
    "float32 and Temme's expansion gets x rounded (Gamma's fix, an exact argument, is missing)",
    "FisherSnedecor": "through betainc, as Beta: cdf(icdf(u)) off near (1e34, 1e34); log_prob "
    "of own draws -inf at (5.5e34, 1e-17) in float64",
    "MultivariateNormal": "float32 draws of a scale_tril conditioned past 1 / eps (the "
    "generator's e^-20 diagonal under off-diagonals of 20) score below the float range: -inf is "
    "the rounding of the true log-density (documented in the class)",
    "LogisticNormal": "log_prob of own draws -inf where scale is below the float spacing of loc "
    "(the stick-breaking round trip is exact to an ulp, not bit for bit) or a piece is below "
    "float32's smallest normal (loc summing past 87)",
    "RelaxedBernoulli": "cdf(icdf(u)) off at temperatures near 1e-30, where most mass lies "
    "beyond the floats next to 0 and 1: icdf clips to them, cdf there is exact (unrepresentable "
    "quantiles; a stated tolerance or ValueError is still to be chosen)",
    "NegativeBinomial": "icdf takes seconds to minutes where its cdf's betainc has huge "
    "arguments (7 s at total_count 6e3, logits 8.9; over a minute at total_count 3e17); "
    "log_prob +inf of float32 draws saturated at the largest float (total_count ~5e34, p -> 1)",
    "Wishart": "warns of df < p and of draws singular in the dtype, for scale_tril conditioned "
    "past 1 / sqrt(eps) (warnings are errors; documented in the class)",
}
SLOW: dict = {}  # families whose fuzzing takes minutes (none since StudentT's large-df cdf)


def _family_params():
    for name in sorted(FAMILIES):
        marks = []
        if name in KNOWN:
            marks.append(pytest.mark.xfail(reason=KNOWN[name], strict=False))
        if name in SLOW and not _LONG:
            marks.append(pytest.mark.skip(reason=SLOW[name] + "; run by make fuzz"))
        yield pytest.param(name, marks=marks)


@pytest.mark.parametrize("name", list(_family_params()))
@_SETTINGS
@given(data=st.data())
def test_family_properties(name, data):
    d = _build(name, data)
    with alarm(_ALARM_S):
        try:
            x = _check_draws(d)
            _check_quantiles(d)
            _check_expand(d, x)
            for stat in ("mean", "variance", "entropy"):
                try:
                    value = getattr(d, stat)
                    value() if callable(value) else value
                except NotImplementedError:
                    pass
        except ValueError as error:
            # A clear refusal names the family or the method that refused.
            assert type(d).__name__ in str(error) or "value" in str(error), str(error)


TRANSFORMS = {
    "Exp": (T.ExpTransform(), R),
    "Sigmoid": (T.SigmoidTransform(), R),
    "Tanh": (T.TanhTransform(), R),
    "Softplus": (T.SoftplusTransform(), R),
    "Abs": (T.AbsTransform(), R),
    "Affine": (T.AffineTransform(1.5, -2.0), R),
    "Power": (T.PowerTransform(2.5), P),
    "StickBreaking": (T.StickBreakingTransform(), constraints.real_vector),
    "Softmax": (T.SoftmaxTransform(), constraints.real_vector),
    "LowerCholesky": (T.LowerCholeskyTransform(), constraints.independent(R, 2)),
    "CorrCholesky": (T.CorrCholeskyTransform(), constraints.real_vector),
    "PositiveDefinite": (T.PositiveDefiniteTransform(), constraints.lower_cholesky),
}


# Transforms with open fuzz findings (none since Power was given inputs in its domain
# and PositiveDefinite its batch shape).
KNOWN_TRANSFORMS: dict = {}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=[pytest.mark.xfail(reason=KNOWN_TRANSFORMS[n], strict=False)])
        if n in KNOWN_TRANSFORMS
        else n
        for n in sorted(TRANSFORMS)
    ],
)
@_SETTINGS
@given(data=st.data())
def test_transform_properties(name, data):
    transform, domain = TRANSFORMS[name]
    dtype = data.draw(st.sampled_from([torch.float32, torch.float64]), label="dtype")
    batch = data.draw(st.sampled_from([(), (0,), (4,)]), label="batch")
    event = {0: (), 1: (K,), 2: (K, K)}[domain.event_dim]
    if name == "CorrCholesky":
        event = (K * (K - 1) // 2,)
    if domain is constraints.lower_cholesky:
        # _param may draw a broadcastable () batch; the checks below expect ``batch``.
        x = _param(data, domain, batch, event, dtype).expand(batch + event)
    else:
        # Inside the domain: the identity for the real ones, exp for Power's positive one.
        x = transform_to(domain)(_unconstrained(data, batch + event, dtype).clamp(-30, 30))
    with alarm(_ALARM_S):
        y = transform(x)
        assert bool(transform.codomain.check(y).all()) or not bool(torch.isfinite(y).all())
        try:
            ladj = transform.log_abs_det_jacobian(x, y)
        except NotImplementedError:  # e.g. Softmax, which is not injective
            return
        assert ladj.shape == batch + event[: len(event) - domain.event_dim]
        if transform.bijective and bool(torch.isfinite(y).all()):
            back = transform(transform.inv(y))
            torch.testing.assert_close(back, y, rtol=1e-3, atol=1e-4, equal_nan=True)
        assert not math.isnan(float(ladj.sum())) if ladj.numel() else True
