"""``TraceMeanField_ELBO``: analytic KL terms where the divergence is known.

For a mean-field guide the ELBO is ``E_q[log p(x | z)] - sum_z KL(q(z) || p(z))``
(Kingma & Welling 2014, arXiv 1312.6114, eq. 10). Where
``distributions.kl_divergence`` has the pair, the site's two Monte Carlo costs
``log p(z)`` and ``-log q(z)`` become one cost ``-KL`` (scaled and masked as
the guide site), which lowers the variance; other sites, and sites whose
model and guide terms carry different masks or scales, keep the Monte Carlo
terms. The credit rule is ``Trace_ELBO``'s.
"""

from __future__ import annotations

import torch

from distributions import kl_divergence
from inference.surrogate import Cost
from inference.trace_elbo import Trace_ELBO
from ppl.runtime import Message
from ppl.trace_struct import Trace, scale_and_mask

__all__ = ["TraceMeanField_ELBO"]


def _same_weight(a: Message, b: Message) -> bool:
    # -KL replaces log p - log q only when both terms carry the same mask and scale.
    def same(x: object, y: object) -> bool:
        return x is y or (isinstance(x, (int, float)) and isinstance(y, (int, float)) and x == y)

    return same(a.mask, b.mask) and same(a.scale, b.scale)


def _analytic_kl(guide_site: Message, model_site: Message) -> torch.Tensor | None:
    if not _same_weight(guide_site, model_site):
        return None
    try:
        return kl_divergence(guide_site.fn, model_site.fn)
    except NotImplementedError:
        return None


class TraceMeanField_ELBO(Trace_ELBO):
    """The ELBO with analytic ``KL(q || p)`` per latent site where registered.

    Example:
        >>> import torch, ppl
        >>> from distributions import Normal
        >>> def model():
        ...     ppl.sample("z", Normal(0.0, 1.0))
        >>> def guide():
        ...     ppl.sample("z", Normal(0.0, 1.0))
        >>> TraceMeanField_ELBO().loss(model, guide)
        0.0
    """

    def _costs(self, model_trace: Trace, guide_trace: Trace) -> list[Cost]:
        costs = super()._costs(model_trace, guide_trace)
        replaced = {}
        for name, guide_site in guide_trace.nodes.items():
            if guide_site.type != "sample" or guide_site.is_observed:
                continue
            kl = _analytic_kl(guide_site, model_trace.nodes[name])
            if kl is not None:
                value = -scale_and_mask(kl, guide_site.scale, guide_site.mask)
                replaced[name] = Cost(value, guide_site, f"kl/{name}")
        kept = [c for c in costs if c.node.partition("/")[2] not in replaced]
        return kept + list(replaced.values())
