"""Local parameters must match their plate's size (issue 20); plain traces stay lenient."""

import pytest
import torch

import ppl
from distributions import Normal
from ppl.handlers import trace
from ppl.plate_checks import check_plates_cover


def test_local_param_with_the_wrong_size_names_param_plate_and_fix():
    def guide():
        with ppl.plate("data", 5, subsample_size=2):
            ppl.param("locs", torch.zeros(3), event_dim=0)

    with pytest.raises(
        ValueError,
        match=(
            r"param 'locs': shape \(3,\) has size 3 at dim -1 \(plate 'data' of size 5\), "
            r"counted left of its event_dim=0 rightmost dims; a local parameter needs one entry "
            r"per plate element there\. Give it size 5 at that dim, or create it outside the "
            r"plate \(or with event_dim=None\) if it is global"
        ),
    ):
        trace(guide).get_trace()


def test_local_param_mismatch_without_subsampling_and_with_event_dims():
    def guide():
        with ppl.plate("data", 4):
            ppl.param("scales", torch.ones(6, 2), event_dim=1)

    with pytest.raises(ValueError, match=r"param 'scales': shape \(6, 2\) has size 6 at dim -1"):
        trace(guide).get_trace()


def test_local_params_of_the_right_size_are_subsampled():
    def guide():
        with ppl.plate("data", 5, subsample=torch.tensor([1, 3])):
            return ppl.param("locs", torch.arange(5.0), event_dim=0)

    assert guide().tolist() == [1.0, 3.0]
    with ppl.plate("outer", 2, dim=-2), ppl.plate("inner", 3):
        ppl.param("grid", torch.zeros(2, 3), event_dim=0)  # both dims match
        ppl.param("row", torch.zeros(3), event_dim=0)  # missing outer dim broadcasts


def test_local_param_check_is_off_without_validation():
    def guide():
        with ppl.plate("data", 5):
            return ppl.param("locs", torch.zeros(3), event_dim=0)

    with ppl.validation_enabled(False):
        assert trace(guide).get_trace().nodes["locs"].value.shape == (3,)


def test_plain_traces_of_unplated_models_stay_valid():
    # Pyro's reference models (pyroapi's logistic_regression, neals_funnel) have
    # batched sites and no plate; only model/guide scoring checks the plates.
    def model():
        ppl.sample("beta", Normal(torch.zeros(3), 1.0))

    tr = trace(model).get_trace()
    with pytest.raises(ValueError, match=r"site 'beta'.*no plate covers dim -1"):
        check_plates_cover(tr.nodes["beta"])
