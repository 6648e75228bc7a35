"""``TraceMeanField_ELBO``: analytic KL terms where the divergence is known.

For a mean-field guide the ELBO is ``E_q[log p(x | z)] - sum_z KL(q(z) || p(z))``
(Kingma & Welling 2014, arXiv 1312.6114, eq. 10). Where
``distributions.kl_divergence`` has the pair, the site's Monte Carlo term
``log p(z) - log q(z)`` is replaced by ``-KL``, which lowers the variance;
other sites keep the Monte Carlo term.
"""

import torch

import distributions
from inference.elbo import ELBO
from inference.surrogate import SiteCosts, surrogate_loss

__all__ = ["TraceMeanField_ELBO"]


def _analytic_kl(guide_site, model_site):
    kl_divergence = getattr(distributions, "kl_divergence", None)
    if kl_divergence is None:
        return None
    try:
        return kl_divergence(guide_site.fn, model_site.fn)
    except NotImplementedError:
        return None


class TraceMeanField_ELBO(ELBO):
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

    def _particle_loss(self, model, guide, args, kwargs, model_trace, guide_trace):
        costs = SiteCosts(model_trace, guide_trace)
        for name, guide_site in costs.guide_sites.items():
            model_site = costs.model_sites[name]
            kl = _analytic_kl(guide_site, model_site)
            if kl is None:
                continue
            kl = _scale_and_mask(kl, guide_site)
            costs.model[name] = -kl
            costs.guide[name] = torch.zeros_like(kl)
        downstream = self._downstream(model, guide, args, kwargs, model_trace, guide_trace)
        return surrogate_loss(costs, downstream, self.baselines, self._combine)


def _scale_and_mask(value, site):
    if site.mask is not None:
        value = torch.where(torch.as_tensor(site.mask), value, value.new_zeros(()))
    return value * site.scale
