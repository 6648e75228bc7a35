"""describe_offenders: one short line however large the offending tensor."""

import torch
import torch.distributions.constraints as tc

from distributions import constraints
from distributions.violations import describe_offenders


def test_elementwise_offenders_first_three_with_indices():
    value = torch.tensor([[0.5, -1.0], [2.0, -3.0], [-4.0, -5.0]])
    text = describe_offenders(value, constraints.positive)
    assert text == (
        "4 of 6 entries of the tensor of shape (3, 2) fail, e.g. -1.0 at index (0, 1), "
        "-3.0 at index (1, 1), -4.0 at index (2, 0), ..."
    )


def test_independent_constraints_are_located_per_entry():
    value = torch.zeros(2, 784)
    value[1, 700] = 0.25
    text = describe_offenders(value, constraints.independent(constraints.boolean, 1))
    assert (
        text
        == "1 of 1568 entries of the tensor of shape (2, 784) fail, e.g. 0.25 at index (1, 700)"
    )


def test_event_constraints_show_the_event_cut_short():
    text = describe_offenders(torch.full((2, 50), 0.5), constraints.simplex)
    assert text.startswith("2 of 2 events of the tensor of shape (2, 50) fail, e.g. ")
    assert "<event of shape (50,): 0.5, 0.5, 0.5, 0.5, ...> at index (0,)" in text
    assert len(text) < 200


def test_scalars_and_torch_constraints():
    assert describe_offenders(torch.tensor(-2.0), constraints.positive) == "value -2.0"
    text = describe_offenders(torch.tensor([3, 1]), tc.integer_interval(0, 2))
    assert text == "1 of 2 entries of the tensor of shape (2,) fail, e.g. 3 at index (0,)"


def test_argument_messages_cut_long_events_short():
    from distributions.validation import describe_violation

    long_event = describe_violation(torch.full((2, 100), 0.5), torch.tensor([True, False]))
    assert long_event == "value <event of shape (100,): 0.5, 0.5, 0.5, 0.5, ...> at index (1,)"
    short = describe_violation(torch.full((2, 3), 0.5), torch.tensor([True, False]))
    assert short == "value [0.5, 0.5, 0.5] at index (1,)"  # short events stay whole
