"""Pyro code as its users write it: torch's constraints, ``validate_args=False`` at obs sites.

Regression tests for issue 17's first two breaks.
"""

import pytest
import torch
from torch.distributions import constraints

import ppl
from distributions import Bernoulli, Distribution, Normal
from ppl.handlers import trace
from ppl.validation import checks_values


def test_param_with_a_torch_constraint():
    s = ppl.param("s", torch.tensor(2.0), constraint=constraints.positive)
    assert s.item() == pytest.approx(2.0)
    p = ppl.param("p", torch.ones(3), constraint=constraints.simplex)
    torch.testing.assert_close(p, torch.full((3,), 1 / 3))  # read as weights, as ours
    b = ppl.param("b", torch.tensor(0.25), constraint=constraints.interval(0.0, 0.5))
    assert b.item() == pytest.approx(0.25)
    with pytest.raises(ValueError, match=r"param 'w': the initial value .* outside.*-1.0"):
        ppl.param("w", torch.tensor(-1.0), constraint=constraints.positive)


def test_params_with_torch_constraints_save_and_load(tmp_path):
    ppl.param("s", torch.tensor(2.0), constraint=constraints.positive)
    ppl.param("b", torch.tensor([0.1, 0.4]), constraint=constraints.interval(0.0, 0.5))
    store = ppl.get_param_store()
    store.save(tmp_path / "params.pt")
    store.clear()
    store.load(tmp_path / "params.pt")
    assert ppl.param("s").item() == pytest.approx(2.0)
    torch.testing.assert_close(ppl.param("b"), torch.tensor([0.1, 0.4]))


class _HalfLine(Distribution):
    """A user's distribution whose support is torch's constraint object."""

    support = constraints.positive
    arg_constraints: dict = {}  # declared, as torch asks (it warns otherwise)

    def log_prob(self, value):
        return -value


def test_support_checks_accept_a_torch_constraint():
    def model(y):
        ppl.sample("y", _HalfLine(), obs=y)

    trace(model).get_trace(torch.tensor(1.0))
    with pytest.raises(
        ValueError,
        match=r"obs of shape \(\) is outside the support x > 0\.0 of _HalfLine: value -2\.0",
    ):
        trace(model).get_trace(torch.tensor(-2.0))


def _vae_model(x, validate_args=False):
    # Pyro's VAE example: pixel intensities in [0, 1] scored by a Bernoulli.
    loc_img = torch.full((x.shape[0], 784), 0.3)
    with ppl.plate("data", x.shape[0]):
        ppl.sample(
            "obs",
            Bernoulli(loc_img, validate_args=validate_args).to_event(1),
            obs=x.reshape(-1, 784),
        )


def test_validate_args_false_turns_the_obs_check_off_as_in_pyros_vae():
    x = torch.rand(5, 784)
    tr = trace(_vae_model).get_trace(x)
    lp = tr.log_prob_sum()
    closed_form = (x * torch.log(torch.tensor(0.3)) + (1 - x) * torch.log(torch.tensor(0.7))).sum()
    torch.testing.assert_close(lp, closed_form)


def test_without_validate_args_false_the_message_is_short():
    x = torch.rand(5, 784)
    with pytest.raises(ValueError) as info:
        trace(_vae_model).get_trace(x, validate_args=None)
    first_line = str(info.value).splitlines()[0]
    assert len(first_line) < 500, first_line
    assert "3920 of 3920 entries of the tensor of shape (5, 784) fail, e.g." in first_line
    assert f"{x[0, 0].item():.4g} at index (0, 0)" in first_line
    assert first_line.count(" at index ") == 3 and ", ..." in first_line
    assert "validate_args=False" in first_line


@pytest.mark.parametrize(
    "wrap",
    [
        lambda d: d.to_event(1),
        lambda d: d.mask(torch.tensor([True, False, True])),
        lambda d: d.expand((2, 3)),
        lambda d: d.to_event(1).mask(True).expand((4,)),
    ],
    ids=["to_event", "mask", "expand", "chained"],
)
def test_wrappers_carry_validate_args_false(wrap):
    d = wrap(Bernoulli(torch.full((3,), 0.5), validate_args=False))
    assert not checks_values(d)
    assert checks_values(wrap(Bernoulli(torch.full((3,), 0.5))))

    def model():
        ppl.sample("x", d, obs=torch.full(d.batch_shape + d.event_shape, 0.5))

    trace(model).get_trace().compute_log_prob()


def test_independent_with_its_own_validate_args_false():
    d = Bernoulli(torch.full((3,), 0.5)).to_event(1)
    assert checks_values(d)
    quiet = type(d)(Bernoulli(torch.full((3,), 0.5)), 1, validate_args=False)
    assert not checks_values(quiet)


def test_shape_checks_stay_on_with_validate_args_false():
    def model():
        ppl.sample("y", Normal(torch.zeros(3), 1.0, validate_args=False), obs=torch.zeros(3, 1))

    with pytest.raises(ValueError, match=r"broadcast to a larger log_prob shape \(3, 3\)"):
        trace(model).get_trace()


def test_long_event_offenders_are_cut_to_their_first_entries():
    from distributions import constraints as ours
    from ppl.validation import describe_offenders

    text = describe_offenders(torch.full((2, 50), 0.5), ours.simplex)
    assert text.startswith("2 of 2 events of the tensor of shape (2, 50) fail, e.g. ")
    assert "<event of shape (50,): 0.5, 0.5, 0.5, 0.5, ...> at index (0,)" in text
    assert len(text) < 200
