"""The core wrappers: Independent, masking, expansion, Delta, Unit, TransformedDistribution."""

import math

import pytest
import torch
import torch.distributions as tdist

import distributions as dist


def test_independent_matches_torch():
    loc, scale = torch.randn(4, 3), torch.rand(4, 3) + 0.5
    ours = dist.Independent(dist.Normal(loc, scale), 1)
    ref = tdist.Independent(tdist.Normal(loc, scale), 1)
    x = ref.sample((2,))
    assert ours.batch_shape == ref.batch_shape and ours.event_shape == ref.event_shape
    torch.testing.assert_close(ours.log_prob(x), ref.log_prob(x))
    torch.testing.assert_close(ours.entropy(), ref.entropy())
    assert ours.expand((5, 4)).sample().shape == (5, 4, 3)
    assert ours.support.event_dim == 1


def test_to_event_and_expand_by():
    d = dist.Normal(torch.zeros(2, 3), 1.0)
    assert d.to_event(1).event_shape == (3,)
    assert d.to_event().event_shape == (2, 3)
    assert d.to_event(0) is d
    assert d.expand_by([5]).batch_shape == (5, 2, 3)


def test_independent_rejects_too_many_dims():
    with pytest.raises(ValueError, match=r"reinterpreted_batch_ndims=2 exceeds the 1 batch dim"):
        dist.Independent(dist.Normal(torch.zeros(3), 1.0), 2)


def test_mask_zeroes_log_prob_and_blocks_gradient():
    loc = torch.zeros(3, requires_grad=True)
    masked = dist.Normal(loc, 1.0).mask(torch.tensor([True, False, True]))
    lp = masked.log_prob(torch.tensor([0.0, 5.0, 1.0]))
    assert lp[1].item() == 0.0
    lp[[0, 2]].sum().backward()
    assert loc.grad[1].item() == 0.0


def test_mask_errors_name_the_problem():
    with pytest.raises(ValueError, match="expected a bool tensor"):
        dist.Normal(torch.zeros(3), 1.0).mask(torch.ones(3))
    with pytest.raises(
        ValueError, match=r"shape \(2,\) does not broadcast with the batch shape \(3,\)"
    ):
        dist.Normal(torch.zeros(3), 1.0).mask(torch.ones(2, dtype=torch.bool))


def test_expanded_distribution_draws_independently_along_grown_dims():
    base = dist.Normal(torch.zeros(2, 1), torch.ones(2, 1))
    x = dist.ExpandedDistribution(base, [4, 2, 3]).sample((1000,))
    assert x.shape == (1000, 4, 2, 3)
    # Grown dims must hold independent draws: the correlation between two
    # entries along a grown dim is near 0 (|r| < 0.15 is > 4 sigma for n=1000).
    r = torch.corrcoef(torch.stack([x[:, 0, 0, 0], x[:, 0, 0, 1]]))[0, 1]
    assert abs(r.item()) < 0.15
    assert not torch.equal(x[:, 0], x[:, 1])


def test_expanded_distribution_rejects_bad_shape():
    with pytest.raises(ValueError, match=r"cannot be expanded to \(4,\)"):
        dist.ExpandedDistribution(dist.Normal(torch.zeros(3), 1.0), [4])


def test_delta_log_prob_sample_and_event_dim():
    v = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    d = dist.Delta(v, log_density=torch.tensor([0.5, -0.5]), event_dim=1)
    assert d.batch_shape == (2,) and d.event_shape == (2,)
    assert torch.equal(d.rsample((3,)), v.expand(3, 2, 2))
    lp = d.log_prob(torch.tensor([[1.0, 2.0], [3.0, 0.0]]))
    assert lp[0].item() == 0.5 and lp[1].item() == -math.inf
    with pytest.raises(ValueError, match="event_dim=3 exceeds the 2 dim"):
        dist.Delta(v, event_dim=3)


def test_unit_carries_log_factor():
    u = dist.Unit(torch.tensor([1.0, -2.0]))
    value = u.sample()
    assert value.shape == (2, 0)
    assert torch.equal(u.log_prob(value), torch.tensor([1.0, -2.0]))
    with pytest.raises(ValueError, match="expected an empty value with last dim 0"):
        u.log_prob(torch.zeros(2, 1))


def test_transformed_distribution_matches_torch_log_normal():
    base_loc, base_scale = torch.tensor([0.0, 0.5]), torch.tensor([1.0, 2.0])
    ours = dist.TransformedDistribution(
        dist.Normal(base_loc, base_scale), [dist.ExpTransform(), dist.AffineTransform(1.0, 2.0)]
    )
    ref = tdist.TransformedDistribution(
        tdist.Normal(base_loc, base_scale), [tdist.ExpTransform(), tdist.AffineTransform(1.0, 2.0)]
    )
    y = ref.sample((5,))
    torch.testing.assert_close(ours.log_prob(y), ref.log_prob(y))
    torch.testing.assert_close(ours.cdf(y), ref.cdf(y))
    q = torch.tensor([0.1, 0.9])
    torch.testing.assert_close(ours.icdf(q), ref.icdf(q))
    assert ours.expand((3, 2)).sample().shape == (3, 2)
    assert ours.rsample((4,)).shape == (4, 2)


def test_transformed_distribution_decreasing_transform_cdf():
    ours = dist.TransformedDistribution(dist.Normal(0.0, 1.0), [dist.AffineTransform(0.0, -1.0)])
    x = torch.tensor(0.3)
    torch.testing.assert_close(ours.cdf(x), dist.Normal(0.0, 1.0).cdf(x))
    torch.testing.assert_close(
        ours.icdf(torch.tensor(0.2)), torch.tensor(-0.8416212335729143).float()
    )


def test_transformed_distribution_rejects_non_transforms():
    with pytest.raises(ValueError, match=r"transforms\[0\] is a str, not a Transform"):
        dist.TransformedDistribution(dist.Normal(0.0, 1.0), ["exp"])


def test_exponential_family_entropy_fallback_is_differentiable():
    scale = torch.tensor(2.0, requires_grad=True)
    d = dist.Normal(torch.tensor(0.0), scale)
    fallback = dist.ExponentialFamily.entropy(d)
    torch.testing.assert_close(fallback, d.entropy())
    (grad,) = torch.autograd.grad(fallback, scale)
    torch.testing.assert_close(grad, torch.tensor(0.5))  # d/ds log s = 1/s


def test_validation_messages_name_argument_constraint_and_value():
    with pytest.raises(
        ValueError,
        match=r"Normal: argument 'scale' must satisfy the constraint x > 0.0.*"
        r"value -2.0 at index \(1,\)",
    ):
        dist.Normal(torch.zeros(3), torch.tensor([1.0, -2.0, 3.0]))
    with pytest.raises(ValueError, match=r"Normal: argument 'loc'.*value nan"):
        dist.Normal(float("nan"), 1.0)


def test_validation_messages_for_samples():
    d = dist.TransformedDistribution(dist.Normal(0.0, 1.0), [dist.ExpTransform()])
    with pytest.raises(
        ValueError, match=r"outside the support x > 0.0: value -1.0 at index \(1,\)"
    ):
        d.log_prob(torch.tensor([1.0, -1.0]))
    with pytest.raises(
        ValueError, match=r"value batch shape \(2,\) does not broadcast with .* \(3,\)"
    ):
        dist.Normal(torch.zeros(3), 1.0).log_prob(torch.zeros(2))
    with pytest.raises(ValueError, match="expected a torch.Tensor value, got float"):
        dist.Normal(0.0, 1.0).log_prob(0.5)
    with pytest.raises(ValueError, match=r"does not end in the event shape \(3,\)"):
        dist.Normal(torch.zeros(3), 1.0).to_event(1).log_prob(torch.zeros(2))


@pytest.mark.parametrize(
    "make",
    [
        lambda: dist.Normal(torch.tensor([0.0, float("nan"), 1.0]), 1.0),
        lambda: dist.Normal(0.0, torch.tensor([1.0, float("nan")])),
        lambda: dist.Bernoulli(probs=torch.tensor([0.5, 1.0, 1.5])),
        lambda: dist.Beta(torch.tensor([1.0, 2.0]), torch.tensor([[1.0, 1.0], [1.0, 0.0]])),
        lambda: dist.Dirichlet(torch.tensor([[1.0, 2.0], [3.0, -1e-9]])),
        lambda: dist.Binomial(torch.tensor([3.0, 2.5]), torch.tensor(0.5)),
    ],
)
def test_fast_validation_path_still_catches_every_bad_element(make):
    # The passing case is decided from a tensor's extremes; one bad element among
    # good ones (NaN included) must still fail and be located by check().
    with pytest.raises(ValueError, match=r"must satisfy the constraint .* at index"):
        make()


def test_fast_simplex_check_catches_bad_rows_and_negative_entries():
    d = dist.Dirichlet(torch.ones(2, 3))
    good = torch.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    assert d.log_prob(good).shape == (2,)
    with pytest.raises(ValueError, match=r"outside the support a probability vector.*\(1,\)"):
        d.log_prob(torch.tensor([[0.2, 0.3, 0.5], [0.2, 0.3, 0.5 + 1e-5]]))
    with pytest.raises(ValueError, match=r"outside the support a probability vector.*\(0,\)"):
        d.log_prob(torch.tensor([[-0.1, 0.6, 0.5], [0.2, 0.3, 0.5]]))
    with pytest.raises(ValueError, match=r"outside the support"):
        d.log_prob(torch.tensor([[float("nan"), 0.5, 0.5], [0.2, 0.3, 0.5]]))


def test_validation_can_be_switched_off_and_on():
    assert dist.Normal(0.0, -1.0, validate_args=False).scale.item() == -1.0
    dist.Distribution.set_default_validate_args(False)
    try:
        dist.Normal(0.0, -1.0)
    finally:
        dist.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        dist.Normal(0.0, -1.0)


def test_torch_compile_does_not_switch_validation_off():
    compiled = torch.compile(lambda x: x * 2, backend="eager")
    compiled(torch.ones(2))
    with pytest.raises(ValueError, match="argument 'scale'"):
        dist.Normal(0.0, -1.0)


def test_normal_draws_are_independent_along_expanded_parameter_dims():
    # rsample() of one batch draws with randn_like(loc); an expanded (stride-0) loc
    # must still get one fresh number per element.
    d = dist.Normal(torch.zeros(3, 1).expand(3, 5), torch.ones(3, 1).expand(3, 5))
    x = d.rsample()
    assert x.shape == (3, 5) and x.unique().numel() == 15
    assert dist.Normal(torch.zeros(3), 1.0).expand((4, 3)).rsample().unique().numel() == 12


@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: dist.Bernoulli(**kw),
        lambda **kw: dist.Binomial(5, **kw),
        lambda **kw: dist.Geometric(**kw),
        lambda **kw: dist.NegativeBinomial(3.0, **kw),
        lambda **kw: dist.ContinuousBernoulli(**kw),
        lambda **kw: dist.Categorical(**kw),
        lambda **kw: dist.OneHotCategorical(**kw),
        lambda **kw: dist.Multinomial(4, **kw),
        lambda **kw: dist.RelaxedBernoulli(torch.tensor(0.5), **kw),
        lambda **kw: dist.RelaxedOneHotCategorical(torch.tensor(0.5), **kw),
    ],
)
def test_probs_or_logits_errors_say_what_was_given(make):
    p = torch.tensor([0.3, 0.7])
    with pytest.raises(ValueError, match=r"\w+: pass exactly one of probs or logits \(got both\)"):
        make(probs=p, logits=p)
    with pytest.raises(ValueError, match=r"pass exactly one of probs or logits \(got neither\)"):
        make()
