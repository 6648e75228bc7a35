"""Probability distributions on torch tensors, API-compatible with ``torch.distributions``.

Shapes follow the TensorFlow Distributions design (Dillon et al. 2017,
arXiv 1711.10604). Each family lives in its own module; this package re-exports
the public names of ``torch.distributions.__all__`` plus our extras (``Delta``,
``Unit``, ``MaskedDistribution``, ``ExpandedDistribution``).

Each block below is owned by one part of the suite; add names to your block's
imports and to its ``__all__ +=`` list only.
"""

from distributions import (
    constraints,
    kl_pairs,  # noqa: F401  (registers the KL pairs)
    transforms,
)
from distributions.bernoulli import Bernoulli
from distributions.beta import Beta

# --- core ---------------------------------------------------------------------
from distributions.binomial import Binomial
from distributions.categorical import Categorical
from distributions.cauchy import Cauchy
from distributions.chi2 import Chi2
from distributions.constraint_registry import biject_to, transform_to
from distributions.continuous_bernoulli import ContinuousBernoulli
from distributions.delta import Delta
from distributions.dirichlet import Dirichlet
from distributions.distribution import Distribution
from distributions.exp_family import ExponentialFamily
from distributions.expanded import ExpandedDistribution
from distributions.exponential import Exponential
from distributions.fisher_snedecor import FisherSnedecor
from distributions.gamma import Gamma
from distributions.generalized_pareto import GeneralizedPareto
from distributions.geometric import Geometric
from distributions.gumbel import Gumbel
from distributions.half_cauchy import HalfCauchy
from distributions.half_normal import HalfNormal
from distributions.independent import Independent
from distributions.inverse_gamma import InverseGamma
from distributions.kl import kl_divergence, register_kl
from distributions.kumaraswamy import Kumaraswamy
from distributions.laplace import Laplace
from distributions.lkj_cholesky import LKJCholesky
from distributions.log_normal import LogNormal
from distributions.logistic_normal import LogisticNormal
from distributions.lowrank_multivariate_normal import LowRankMultivariateNormal
from distributions.masked import MaskedDistribution
from distributions.mixture_same_family import MixtureSameFamily
from distributions.multinomial import Multinomial
from distributions.multivariate_normal import MultivariateNormal
from distributions.negative_binomial import NegativeBinomial
from distributions.normal import Normal
from distributions.one_hot_categorical import OneHotCategorical, OneHotCategoricalStraightThrough
from distributions.pareto import Pareto
from distributions.poisson import Poisson
from distributions.relaxed_bernoulli import LogitRelaxedBernoulli, RelaxedBernoulli
from distributions.relaxed_categorical import RelaxedOneHotCategorical
from distributions.student_t import StudentT
from distributions.transformed_distribution import TransformedDistribution
from distributions.transforms import (
    AbsTransform,
    AffineTransform,
    CatTransform,
    ComposeTransform,
    CorrCholeskyTransform,
    CumulativeDistributionTransform,
    ExpTransform,
    IndependentTransform,
    LowerCholeskyTransform,
    PositiveDefiniteTransform,
    PowerTransform,
    ReshapeTransform,
    SigmoidTransform,
    SoftmaxTransform,
    SoftplusTransform,
    StackTransform,
    StickBreakingTransform,
    TanhTransform,
    Transform,
    identity_transform,
)
from distributions.uniform import Uniform
from distributions.unit import Unit
from distributions.von_mises import VonMises
from distributions.weibull import Weibull
from distributions.wishart import Wishart

__all__ = [
    "constraints",
    "transforms",
    "biject_to",
    "transform_to",
    "Distribution",
    "ExponentialFamily",
    "Independent",
    "TransformedDistribution",
    "Normal",
    "Delta",
    "Unit",
    "MaskedDistribution",
    "ExpandedDistribution",
    "AbsTransform",
    "AffineTransform",
    "CatTransform",
    "ComposeTransform",
    "CorrCholeskyTransform",
    "CumulativeDistributionTransform",
    "ExpTransform",
    "IndependentTransform",
    "LowerCholeskyTransform",
    "PositiveDefiniteTransform",
    "PowerTransform",
    "ReshapeTransform",
    "SigmoidTransform",
    "SoftmaxTransform",
    "SoftplusTransform",
    "StackTransform",
    "StickBreakingTransform",
    "TanhTransform",
    "Transform",
    "identity_transform",
]

# --- continuous univariate (location-scale and friends) -----------------------
__all__ += [
    "Cauchy",
    "ContinuousBernoulli",
    "Exponential",
    "GeneralizedPareto",
    "Gumbel",
    "HalfCauchy",
    "HalfNormal",
    "Kumaraswamy",
    "Laplace",
    "LogNormal",
    "Pareto",
    "Uniform",
    "VonMises",
    "Weibull",
]

# --- gamma/beta family and special functions -----------------------------------
__all__ += [
    "Gamma",
    "Chi2",
    "InverseGamma",
    "Beta",
    "StudentT",
    "FisherSnedecor",
    "Dirichlet",
]

# --- multivariate --------------------------------------------------------------
__all__ += [
    "MultivariateNormal",
    "LowRankMultivariateNormal",
    "LogisticNormal",
    "Wishart",
    "LKJCholesky",
    "RelaxedBernoulli",
    "LogitRelaxedBernoulli",
    "RelaxedOneHotCategorical",
    "MixtureSameFamily",
]

# --- discrete ------------------------------------------------------------------
__all__ += [
    "Bernoulli",
    "Binomial",
    "Categorical",
    "Geometric",
    "Multinomial",
    "NegativeBinomial",
    "OneHotCategorical",
    "OneHotCategoricalStraightThrough",
    "Poisson",
]

# --- KL registry ---------------------------------------------------------------
__all__ += ["kl_divergence", "register_kl"]
