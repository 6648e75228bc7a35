"""Which estimator and baseline each program is checked with.

Every program runs under ``Trace_ELBO`` and ``TraceGraph_ELBO``,
``TraceMeanField_ELBO`` where its guide is mean-field, and every third
program under the two compiled variants as well; each of these, on a program
with score-function sites, runs once more with a baseline, rotating through
the baselines so that every (estimator, baseline) pair meets many programs.
``loo`` needs vectorized particles, so programs with control flow on latents
rotate through the others.
"""

from .programs import BASELINES, PROGRAMS

__all__ = ["UNBIASED_CASES", "has_score_sites", "case_id"]

# Parts whose guide sites are all reparameterized.
_PATHWISE_ONLY = {("normal", "reparam"), ("normal", "reparam_plate"), ("dirichlet", "reparam")}


def has_score_sites(spec):
    """Whether some guide site of the program takes the score-function path."""
    return any(part not in _PATHWISE_ONLY for part in spec.parts)


def _estimators(index, program):
    names = ["Trace", "TraceGraph"]
    if program.mean_field:
        names.append("TraceMeanField")
    if index % 3 == 0:
        names += ["JitTrace", "JitTraceGraph"]
    return names


def _cases():
    out, turns = [], {}
    for index, spec in enumerate(PROGRAMS):
        program = spec.build()
        pool = [b for b in BASELINES[1:] if program.vectorizable or b != "loo"]
        for estimator in _estimators(index, program):
            out.append((spec, estimator, "none"))
            # Particle loops are slow: their mean-field checks run without baselines.
            looped_mean_field = estimator == "TraceMeanField" and not program.vectorizable
            if has_score_sites(spec) and not looped_mean_field:
                turn = turns.get(estimator, index)
                out.append((spec, estimator, pool[turn % len(pool)]))
                turns[estimator] = turn + 1
    return out


def case_id(case):
    """``program-estimator-baseline`` for pytest ids."""
    spec, estimator, baseline = case
    return f"{spec.name}-{estimator}-{baseline}"


UNBIASED_CASES = _cases()
