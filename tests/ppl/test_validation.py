"""The error catalogue: each message names the site or plate, the shapes and the fix."""

import pytest
import torch

import ppl
from distributions import Normal, constraints
from distributions.validation import is_known_valid
from ppl.handlers import trace


def _traced(model):
    return lambda: trace(model).get_trace()


def test_plate_batch_shape_mismatch_names_site_plate_dim_sizes_and_fix():
    def model():
        with ppl.plate("data", 5):
            ppl.sample("x", Normal(torch.zeros(3), 1.0))

    with pytest.raises(
        ValueError,
        match=(
            r"sample site 'x': batch shape \(3,\) does not broadcast with plate 'data' at dim "
            r"-1: the plate has size 5 but the batch has size 3 there. If that dim is part of "
            r"one draw, use .to_event\(\)"
        ),
    ):
        model()


def test_plate_mismatch_under_subsampling_suggests_indexing():
    def model():
        with ppl.plate("data", 10, subsample_size=2):
            ppl.sample("x", Normal(torch.zeros(10), 1.0))

    with pytest.raises(ValueError, match="a subsample of 2 out of 10; index the parameters"):
        model()


def test_observed_shape_trap_n1_vs_n():
    def model():
        ppl.sample("y", Normal(torch.zeros(4), 1.0), obs=torch.zeros(4, 1))

    with pytest.raises(
        ValueError,
        match=(
            r"sample site 'y': obs batch shape \(4, 1\) and the batch shape \(4,\) of Normal "
            r"broadcast to a larger log_prob shape \(4, 4\)"
        ),
    ):
        _traced(model)()


def test_observed_shapes_that_are_fine():
    def model():
        ppl.sample("a", Normal(0.0, 1.0), obs=torch.zeros(3))  # value larger than batch
        ppl.sample("b", Normal(torch.zeros(3), 1.0), obs=torch.tensor(0.0))  # smaller
        ppl.sample("c", Normal(0.0, 1.0), obs=torch.zeros(2, 3), sample_shape=(2, 3))

    assert trace(model).get_trace().observation_nodes == ["a", "b", "c"]


def test_observed_shapes_that_do_not_broadcast():
    def model():
        ppl.sample("y", Normal(torch.zeros(4), 1.0), obs=torch.zeros(3))

    with pytest.raises(ValueError, match=r"obs batch shape \(3,\) does not broadcast with"):
        _traced(model)()


def test_obs_wrong_dtype_and_type():
    def int_obs():
        ppl.sample("y", Normal(0.0, 1.0), obs=torch.tensor(1))

    with pytest.raises(
        ValueError, match="sample site 'y': obs has dtype torch.int64 but Normal has a continuous"
    ):
        _traced(int_obs)()

    def float_obs():
        ppl.sample("y", Normal(0.0, 1.0), obs=1.0)

    with pytest.raises(
        ValueError, match=r"sample site 'y': expected a torch.Tensor obs, got float; wrap it"
    ):
        _traced(float_obs)()


def test_obs_outside_support():
    def model():
        ppl.sample("y", Normal(0.0, 1.0), obs=torch.tensor([0.0, float("nan")]))

    with pytest.raises(
        ValueError,
        match=(
            r"sample site 'y': obs of shape \(2,\) is outside the support .* of Normal: 1 of 2 "
            r"entries .* fail, e.g. nan at index \(1,\)\. Observe values in the support"
        ),
    ):
        _traced(model)()


class _CountedPositive(constraints.Constraint):
    """``x > 0`` that counts its elementwise checks (the fast path does not know it)."""

    calls = 0

    def check(self, value):
        type(self).calls += 1
        return value > 0


class _CountedHalfNormal(Normal):
    support = _CountedPositive()


def test_an_observed_site_checks_its_support_once_per_step_and_then_remembers():
    _CountedPositive.calls = 0
    y = torch.tensor([0.5, 1.5])

    def model():
        ppl.sample("y", _CountedHalfNormal(torch.zeros(2), 1.0), obs=y)

    trace(model).get_trace().compute_log_prob()
    assert _CountedPositive.calls == 1  # the site's check; log_prob does not repeat it
    trace(model).get_trace().compute_log_prob()
    assert _CountedPositive.calls == 1  # the same, unchanged data: nothing to check


def test_data_changed_in_place_is_checked_again():
    y = torch.tensor([0.5, 1.5])

    def model():
        ppl.sample("y", _CountedHalfNormal(torch.zeros(2), 1.0), obs=y)

    trace(model).get_trace()
    y[1] = -1.0
    with pytest.raises(ValueError, match=r"sample site 'y': obs of shape \(2,\) is outside"):
        trace(model).get_trace()


def test_an_observation_that_passed_skips_the_shape_checks_until_something_changes(monkeypatch):
    import ppl.validation as site_validation

    calls = []
    real = site_validation.dist_validation.check_sample_shape
    monkeypatch.setattr(
        site_validation.dist_validation,
        "check_sample_shape",
        lambda *a, **k: calls.append(1) or real(*a, **k),
    )
    y = torch.tensor([0.5, 1.5])
    d = Normal(torch.zeros(2), 1.0)
    site_validation.check_observation("y", d, y)
    site_validation.check_observation("y", d, y)
    assert len(calls) == 1  # the same data, shapes and support: passed before
    y.add_(1.0)
    site_validation.check_observation("y", d, y)
    assert len(calls) == 2  # changed in place: checked again


def test_an_observation_that_passed_is_checked_again_against_other_shapes_flags_and_dtypes():
    from distributions import Bernoulli, Poisson

    y = torch.tensor([0.5, 1.5])
    ppl.validation.check_observation("y", Normal(torch.zeros(2), 1.0), y)
    column = y.reshape(2, 1)
    ppl.validation.check_observation("y", Normal(torch.zeros(1), 1.0), column)
    with pytest.raises(ValueError, match="counting each observation several times"):
        ppl.validation.check_observation("y", Normal(torch.zeros(2), 1.0), column)
    # Passed by a distribution that opts out of value checks, not by one that checks.
    ppl.validation.check_observation("y", Bernoulli(torch.full((2,), 0.5), validate_args=False), y)
    with pytest.raises(ValueError, match=r"sample site 'y': obs of shape \(2,\) is outside"):
        ppl.validation.check_observation("y", Bernoulli(torch.full((2,), 0.5)), y)
    counts = torch.tensor([1, 2])
    ppl.validation.check_observation("n", Poisson(torch.ones(2)), counts)
    with pytest.raises(ValueError, match="obs has dtype torch.int64"):
        ppl.validation.check_observation("n", Normal(torch.zeros(2), 1.0), counts)
    with pytest.raises(ValueError, match="does not end in the event shape"):
        ppl.validation.check_observation(
            "y", Normal(torch.zeros(2), 1.0).to_event(1).expand((3,)), y[:1]
        )


def test_a_replayed_draw_is_checked_against_another_support():
    # The guide's Normal draws are known to be real, not positive: the model's
    # HalfNormal-like site still checks them.
    def guide():
        ppl.sample("z", Normal(-3.0, 0.1))

    def model():
        ppl.sample("z", _CountedHalfNormal(0.0, 1.0))

    guide_trace = trace(guide).get_trace()
    model_trace = trace(ppl.handlers.replay(model, trace=guide_trace)).get_trace()
    with pytest.raises(ValueError, match=r"log_prob: value of shape \(\) is outside the support"):
        model_trace.compute_log_prob()


def test_a_parameter_read_from_the_store_is_known_to_satisfy_its_constraint():
    # The image of transform_to(positive): a Normal taking it as its scale skips the check.
    def model():
        scale = ppl.param("s", torch.ones(2), constraint=constraints.positive)
        ppl.sample("x", Normal(torch.zeros(2), scale).to_event(1))

    value = trace(model).get_trace().nodes["s"]["value"]
    assert is_known_valid(value, constraints.positive)
    assert not is_known_valid(value, _CountedHalfNormal.support)
    with torch.no_grad():
        value.mul_(-1.0)  # changed in place: no longer known
    assert not is_known_valid(value, constraints.positive)


def test_obs_event_shape_mismatch():
    def model():
        ppl.sample("y", Normal(torch.zeros(3), 1.0).to_event(1), obs=torch.zeros(2))

    with pytest.raises(
        ValueError, match=r"obs of shape \(2,\) does not end in the event shape \(3,\)"
    ):
        _traced(model)()


def test_fn_must_be_a_distribution():
    def model():
        ppl.sample("x", torch.zeros(2))

    with pytest.raises(TypeError, match="sample site 'x': expected a distribution, got Tensor"):
        _traced(model)()


def test_param_init_outside_constraint():
    with pytest.raises(
        ValueError,
        match=r"param 's': the initial value of shape \(2,\) is outside the constraint .*-1.0",
    ):
        ppl.param("s", torch.tensor([1.0, -1.0]), constraint=constraints.positive)
    assert "s" not in ppl.get_param_store()


def test_plate_dim_clash():
    with pytest.raises(
        ValueError, match="plate 'b' asks for dim -1, which the enclosing plate 'a'"
    ):
        with ppl.plate("a", 2, dim=-1), ppl.plate("b", 3, dim=-1):
            pass
    assert ppl.get_stack() == []
    with ppl.plate("c", 2, dim=-1):  # the dim was released
        pass


def test_plate_nested_in_itself():
    with pytest.raises(ValueError, match="plate 'a' is already active at dim -1"):
        with ppl.plate("a", 2), ppl.plate("a", 2):
            pass


def test_plate_name_reused_with_another_size():
    def model():
        with ppl.plate("data", 3):
            pass
        with ppl.plate("data", 4):
            pass

    with pytest.raises(
        ValueError,
        match=r"plate 'data' was created with size 3 and dim None .* now with size 4 and dim None",
    ):
        _traced(model)()


def test_plate_name_reused_with_another_dim():
    def model():
        with ppl.plate("data", 3, dim=-1):
            pass
        with ppl.plate("data", 3, dim=-2):
            pass

    with pytest.raises(ValueError, match="a plate name must keep its size and dim"):
        _traced(model)()


def test_validation_can_be_turned_off():
    def model():
        ppl.sample("y", Normal(torch.zeros(4), 1.0), obs=torch.zeros(4, 1))

    with ppl.validation_enabled(False):
        assert not ppl.is_validation_enabled()
        trace(model).get_trace()
        assert ppl.param("s", torch.tensor(-1.0), constraint=constraints.positive).isnan()
    assert ppl.is_validation_enabled()
    with pytest.raises(ValueError, match="expects True or False"):
        ppl.enable_validation("yes")


def test_a_torch_distribution_and_a_duck_typed_fn_are_still_checked():
    # apply_stack skips check_message only for latent sites of this library's
    # distributions: anything else still has its type checked.
    import torch.distributions as tdist

    class NotADistribution:
        def log_prob(self, value):
            return value

    def model():
        ppl.sample("x", tdist.Normal(0.0, 1.0))
        ppl.sample("y", NotADistribution())

    with pytest.raises(TypeError, match="sample site 'y': expected a distribution"):
        _traced(model)()
