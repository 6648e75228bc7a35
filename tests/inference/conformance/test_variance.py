"""``TraceGraph_ELBO``'s gradient variance is at most ``Trace_ELBO``'s, up to MC error.

Both estimators credit a score-function site with costs: ``Trace_ELBO``
with every cost (within plates), ``TraceGraph_ELBO`` only with those
downstream in the data-flow graph, which drops zero-mean terms and so
should never raise the variance (Schulman et al. 2015, arXiv 1506.05254,
section 4 on Rao-Blackwellization). The test reuses the unbiasedness draws
of the two estimators (independent seeds, same program, no baseline) and
compares the total variance of the gradient components: under equal
variances the ratio is at most F-distributed with ``(R - 1, R - 1)`` degrees
of freedom (a sum of components has more effective degrees of freedom than
one), so the one-sided F quantile at the harness's per-comparison level
bounds the false-alarm rate (see :mod:`.sampling`).
"""

import pytest
from scipy import stats

from .cases import has_score_sites
from .programs import PROGRAMS
from .sampling import FAMILY_ALPHA, MAX_COMPARISONS, draws

VARIANCE_CASES = [spec for spec in PROGRAMS if has_score_sites(spec)]


def _total_variance(samples):
    return samples[:, 1:].var(0).sum().item()


@pytest.mark.parametrize("spec", VARIANCE_CASES, ids=lambda s: s.name)
def test_tracegraph_variance_is_at_most_trace_variance(spec):
    graph, plain = draws(spec, "TraceGraph"), draws(spec, "Trace")
    for arg in graph:
        r = graph[arg].shape[0]
        limit = stats.f.ppf(1 - FAMILY_ALPHA / MAX_COMPARISONS, r - 1, r - 1)
        graph_var, plain_var = _total_variance(graph[arg]), _total_variance(plain[arg])
        # The 1e-20 lets two estimators that are both exact (zero variance) pass.
        assert graph_var <= limit * plain_var + 1e-20, (
            f"{spec.name}, arg={arg}: TraceGraph_ELBO gradient variance {graph_var:.3g}, "
            f"Trace_ELBO's {plain_var:.3g} (allowed up to {limit:.3g} times for Monte Carlo error)"
        )
