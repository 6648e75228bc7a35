"""Automatic guides: variational families built from a model's trace.

``AutoDelta`` (MAP), ``AutoNormal`` (mean-field, per site),
``AutoDiagonalNormal``, ``AutoMultivariateNormal`` and
``AutoLowRankMultivariateNormal`` (joint over all latents), with the init
strategies ``init_to_median``, ``init_to_mean``, ``init_to_sample``,
``init_to_value`` and ``init_to_feasible``.

Example:
    >>> import ppl, torch
    >>> from distributions import Normal
    >>> def model():
    ...     ppl.sample("x", Normal(0.0, 1.0))
    >>> AutoNormal(model).median()["x"].shape
    torch.Size([])
"""

from inference.autoguide.continuous import AutoContinuous, AutoDiagonalNormal
from inference.autoguide.delta import AutoDelta
from inference.autoguide.guide import AutoGuide, LatentSite
from inference.autoguide.guide_list import AutoCallable, AutoGuideList
from inference.autoguide.initialization import (
    InitMessenger,
    init_to_feasible,
    init_to_mean,
    init_to_median,
    init_to_sample,
    init_to_value,
)
from inference.autoguide.multivariate import (
    AutoLowRankMultivariateNormal,
    AutoMultivariateNormal,
)
from inference.autoguide.normal import AutoNormal

__all__ = [
    "AutoCallable",
    "AutoContinuous",
    "AutoDelta",
    "AutoDiagonalNormal",
    "AutoGuide",
    "AutoGuideList",
    "AutoLowRankMultivariateNormal",
    "AutoMultivariateNormal",
    "AutoNormal",
    "InitMessenger",
    "LatentSite",
    "init_to_feasible",
    "init_to_mean",
    "init_to_median",
    "init_to_sample",
    "init_to_value",
]
