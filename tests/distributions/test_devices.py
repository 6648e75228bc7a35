"""Draws follow the parameters' device.

The "meta" device stands in for an accelerator on CPU-only machines: a sampler
that draws its noise on the default (CPU) device fails here the way it would
fail on a GPU ("Tensor on device meta is not on the expected device cpu").
"""

import pytest
import torch

import distributions as dist


def _m(*values):
    return torch.tensor(values).to("meta")


FAMILIES = {
    "Exponential": lambda: dist.Exponential(_m(1.0, 2.0)),
    "Normal": lambda: dist.Normal(_m(0.0, 1.0), _m(1.0, 2.0)),
    "Gumbel": lambda: dist.Gumbel(_m(0.0, 1.0), _m(1.0, 2.0)),
    "Uniform": lambda: dist.Uniform(_m(0.0, 1.0), _m(1.0, 2.0)),
    "Laplace": lambda: dist.Laplace(_m(0.0, 1.0), _m(1.0, 2.0)),
    "Cauchy": lambda: dist.Cauchy(_m(0.0, 1.0), _m(1.0, 2.0)),
    "HalfNormal": lambda: dist.HalfNormal(_m(1.0, 2.0)),
    "HalfCauchy": lambda: dist.HalfCauchy(_m(1.0, 2.0)),
    "LogNormal": lambda: dist.LogNormal(_m(0.0, 1.0), _m(1.0, 2.0)),
    "Pareto": lambda: dist.Pareto(_m(1.0, 2.0), _m(3.0, 4.0)),
    "Weibull": lambda: dist.Weibull(_m(1.0, 2.0), _m(3.0, 4.0)),
    "Kumaraswamy": lambda: dist.Kumaraswamy(_m(1.0, 2.0), _m(3.0, 4.0)),
    "StudentT": lambda: dist.StudentT(_m(3.0, 4.0)),
    "Geometric": lambda: dist.Geometric(_m(0.3, 0.5)),
    "MultivariateNormal": lambda: dist.MultivariateNormal(
        _m(0.0, 1.0), scale_tril=torch.eye(2, device="meta")
    ),
    "ContinuousBernoulli": lambda: dist.ContinuousBernoulli(_m(0.3, 0.6)),
    "GeneralizedPareto": lambda: dist.GeneralizedPareto(_m(0.0, 1.0), _m(1.0, 2.0), _m(0.1, 0.2)),
    "RelaxedBernoulli": lambda: dist.RelaxedBernoulli(_m(0.5), _m(0.3, 0.6)),
    "RelaxedOneHotCategorical": lambda: dist.RelaxedOneHotCategorical(_m(0.5), _m(0.3, 0.7)),
    "Gamma": lambda: dist.Gamma(_m(1.0, 2.0), _m(1.0, 2.0)),
    "Chi2": lambda: dist.Chi2(_m(3.0, 4.0)),
    "InverseGamma": lambda: dist.InverseGamma(_m(3.0, 4.0), _m(1.0, 2.0)),
    "FisherSnedecor": lambda: dist.FisherSnedecor(_m(3.0, 4.0), _m(5.0, 6.0)),
    "Beta": lambda: dist.Beta(_m(1.0, 2.0), _m(1.0, 2.0)),
    "Dirichlet": lambda: dist.Dirichlet(_m(1.0, 2.0)),
    "LogisticNormal": lambda: dist.LogisticNormal(_m(0.0, 1.0), _m(1.0, 1.0)),
    "LKJCholesky": lambda: dist.LKJCholesky(3, _m(1.0)),
    "Poisson": lambda: dist.Poisson(_m(1.0, 2.0)),
    "NegativeBinomial": lambda: dist.NegativeBinomial(_m(3.0, 4.0), _m(0.3, 0.5)),
    "Bernoulli": lambda: dist.Bernoulli(_m(0.3, 0.7)),
    "Categorical": lambda: dist.Categorical(_m(0.3, 0.7)),
    "OneHotCategorical": lambda: dist.OneHotCategorical(_m(0.3, 0.7)),
    "MixtureSameFamily": lambda: dist.MixtureSameFamily(
        dist.Categorical(_m(0.3, 0.7)), dist.Normal(_m(0.0, 1.0), _m(1.0, 1.0))
    ),
}
# Not here: Binomial/Multinomial (torch.binomial has no meta kernel), VonMises
# (boolean indexing), LowRankMultivariateNormal/Wishart (read values on the way).


@pytest.fixture
def no_validation():
    # Validation reads values (.item()), which meta tensors do not have.
    dist.Distribution.set_default_validate_args(False)
    yield
    dist.Distribution.set_default_validate_args(True)


@pytest.mark.parametrize("sample_shape", [(), (3,)], ids=["one", "many"])
@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_draws_are_made_on_the_parameters_device(name, sample_shape, no_validation):
    d = FAMILIES[name]()
    x = d.sample(sample_shape)
    assert x.device.type == "meta"
    assert x.shape == torch.Size(sample_shape) + d.batch_shape + d.event_shape
