"""``StudentTReparam``: a Student-t variable as a Gaussian scale mixture.

``x ~ StudentT(df, loc, scale)`` has the law of
``x | g ~ Normal(loc, scale / sqrt(g))`` with ``g ~ Gamma(df / 2, df / 2)``
(Andrews and Mallows 1974, "Scale mixtures of normal distributions", JRSS B
36). The site keeps its name and becomes that conditional Normal; the
auxiliary ``{name}_gamma`` is a new latent site. Useful for observed
Student-t likelihoods (robust regression), which become conditionally
Gaussian.
"""

from __future__ import annotations

from distributions import Gamma, Normal, StudentT
from ppl import primitives
from ppl.reparam.reparam import Reparam, unwrap, wrap

__all__ = ["StudentTReparam"]


class StudentTReparam(Reparam):
    """Adds the latent ``{name}_gamma`` and makes the site Normal given it.

    Works for latent and observed sites, possibly wrapped in ``.to_event()``.

    Raises:
        TypeError: at the site, when its distribution is not a ``StudentT``.

    Example:
        >>> import ppl, torch
        >>> from distributions import StudentT
        >>> def model():
        ...     return ppl.sample("y", StudentT(3.0, 0.0, 1.0), obs=torch.tensor(0.5))
        >>> tr = ppl.handlers.trace(
        ...     ppl.handlers.reparam(model, config={"y": StudentTReparam()})).get_trace()
        >>> tr.stochastic_nodes, type(tr.nodes["y"]["fn"]).__name__
        (['y_gamma'], 'Normal')
    """

    def apply(self, msg: dict) -> dict:
        name, fn = msg["name"], msg["fn"]
        inner, event_dim = unwrap(fn)
        if not isinstance(inner, StudentT):
            raise TypeError(
                f"StudentTReparam at site '{name}': expected a StudentT, got "
                f"{type(inner).__name__}; remove '{name}' from the config"
            )
        half_df = inner.df * 0.5
        # Derived from the site's own checked parameters: skip the mixing draw's checks.
        # The new Normal keeps them, so an observed value is still checked at the site.
        mixing = Gamma(half_df, half_df, validate_args=False)
        gamma = primitives.sample(f"{name}_gamma", wrap(mixing, event_dim))
        new_fn = wrap(Normal(inner.loc, inner.scale * gamma.rsqrt()), event_dim)
        return {"fn": new_fn, "value": msg["value"], "is_observed": msg["is_observed"]}
