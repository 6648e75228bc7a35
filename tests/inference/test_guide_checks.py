"""Missing plates and plate mismatches between model and guide (issues 17 and 20).

Traces are made with ``ppl.handlers.trace`` and the model replayed against the
guide, as an ELBO does; the checks are called directly until the ELBOs call
``check_model_guide`` themselves.
"""

import pytest
import torch

import ppl
from distributions import Bernoulli, Categorical, Normal
from inference.autoguide import AutoNormal
from inference.guide_checks import check_model_guide, check_plates_match
from ppl.handlers import broadcast, enum, replay, trace
from ppl.plate_checks import check_trace_plates

DATA = torch.tensor([0.5, 1.0, -0.3, 2.0, 0.1])


def _pair(model, guide, *args):
    guide_trace = trace(guide).get_trace(*args)
    model_trace = trace(replay(model, trace=guide_trace)).get_trace(*args)
    return model_trace, guide_trace


def _check(model, guide, *args, **kwargs):
    check_model_guide(*_pair(model, guide, *args), **kwargs)


# ------------------------------------------------------------ missing plates
def test_missing_plate_around_observations_as_the_pyro_user_wrote_it():
    def model(data):
        mu = ppl.sample("mu", Normal(0.0, 10.0))
        ppl.sample("obs", Normal(mu, 1.0), obs=data)

    def guide(data):
        loc = ppl.param("loc", torch.tensor(0.0))
        ppl.sample("mu", Normal(loc, 1.0))

    with pytest.raises(
        ValueError,
        match=(
            r"sample site 'obs': its log_prob has batch shape \(5,\), but no plate covers dim -1 "
            r"\(of size 5\); it is in no plate\..*enclose the site in "
            r"`with ppl\.plate\('\.\.\.', 5, dim=-1\):` \(or reshape the observation\)"
        ),
    ):
        _check(model, guide, DATA)


def test_missing_plate_names_to_event_for_a_vector_latent_and_shows_the_table():
    def model():
        ppl.sample("z", Normal(torch.zeros(3), 1.0))

    with pytest.raises(ValueError) as info:
        _check(model, model)
    text = str(info.value)
    assert "if those 3 entries form one draw (a vector), use Normal(...).to_event(1)" in text
    assert "Trace shapes:" in text and "\n  z " in text


def test_a_site_outside_the_plate_of_its_neighbours():
    def model(data):
        mu = ppl.sample("mu", Normal(0.0, 10.0))
        with ppl.plate("data", len(data)):
            ppl.sample("obs", Normal(mu, 1.0), obs=data)
        ppl.sample("extra", Normal(torch.zeros(len(data)), 1.0), obs=data)

    guide = AutoNormal(model)
    with pytest.raises(
        ValueError, match=r"site 'extra'.*no plate covers dim -1.*it is in no plate"
    ):
        _check(model, guide, DATA)


def test_uncovered_dim_left_of_a_plate():
    def model():
        with ppl.plate("inner", 3):
            ppl.sample("x", Normal(torch.zeros(2, 3), 1.0))

    with pytest.raises(ValueError, match=r"no plate covers dim -2 \(of size 2\); its plates are "):
        _check(model, model)


def test_validation_off_skips_the_checks():
    def model():
        ppl.sample("z", Normal(torch.zeros(3), 1.0))

    pair = _pair(model, model)
    with ppl.validation_enabled(False):
        check_model_guide(*pair)


# ------------------------------------------------------------ valid programs
def _vectorized(fn, n=4):
    def wrapped(*args):
        with ppl.plate("num_particles_vectorized", n, dim=-2):
            return fn(*args)

    return wrapped


def _plated_model(data):
    mu = ppl.sample("mu", Normal(0.0, 10.0))
    with ppl.plate("data", len(data)):
        ppl.sample("obs", Normal(mu, 1.0), obs=data)


def test_valid_plated_programs_pass():
    _check(_plated_model, AutoNormal(_plated_model), DATA)


def test_vectorized_particles_pass():
    guide = AutoNormal(_plated_model)
    guide(DATA)
    _check(_vectorized(_plated_model), _vectorized(guide), DATA)


def test_sample_shape_and_expand_inside_plates_pass():
    def model():
        with ppl.plate("p", 3):
            ppl.sample("a", Normal(0.0, 1.0), sample_shape=(2,))
            ppl.sample("b", Normal(0.0, 1.0).expand([3]))
            ppl.sample("c", Normal(torch.zeros(3, 2), 1.0).to_event(1))
        ppl.sample("d", Normal(0.0, 1.0), sample_shape=(4,))

    _check(model, model)


def test_broadcast_handler_passes():
    def model():
        with ppl.plate("p", 3):
            ppl.sample("a", Normal(0.0, 1.0))

    _check(broadcast(model), broadcast(model))


def test_enumeration_dims_left_of_the_plates_pass():
    def model(data):
        probs = torch.tensor([0.3, 0.7])
        locs = torch.tensor([-1.0, 1.0])
        with ppl.plate("data", len(data)):
            z = ppl.sample("z", Categorical(probs), infer={"enumerate": "parallel"})
            ppl.sample("obs", Normal(locs[z], 1.0), obs=data)

    tr = trace(enum(model, first_available_dim=-2)).get_trace(DATA)
    assert tr.nodes["obs"].fn.batch_shape == (2, 5)
    check_trace_plates(tr)


def test_max_plate_nesting_leaves_the_dims_further_left_alone():
    def model():
        with ppl.plate("p", 3):
            ppl.sample("x", Bernoulli(torch.full((2, 1, 3), 0.5)))

    pair = _pair(model, model)
    with pytest.raises(ValueError, match="no plate covers dim -3"):
        check_model_guide(*pair)
    check_model_guide(*pair, max_plate_nesting=1)


def test_deterministic_and_masked_sites_pass():
    def model():
        ppl.deterministic("d", torch.zeros(4))
        with ppl.handlers.mask(mask=False):
            ppl.sample("m", Normal(torch.zeros(4), 1.0))

    _check(model, model)


# ------------------------------------------------------------ plates match
def test_plate_in_the_guide_but_not_in_the_model():
    def model():
        ppl.sample("z", Normal(torch.zeros(3), 1.0).to_event(1))

    def guide():
        with ppl.plate("latents", 3):
            ppl.sample("z", Normal(torch.zeros(3), 1.0))

    with pytest.raises(
        ValueError,
        match=(
            r"plate 'latents' is in the guide \(sites 'z'\) but not in the model; .*Fix: put "
            r"the matching model sites in `ppl\.plate\('latents', 3, dim=-1\)` too, or remove "
            r"the plate from the guide \(use \.to_event\(\) there for a vector latent\)"
        ),
    ):
        check_plates_match(*_pair(model, guide))


def test_plate_with_another_size_or_dim_in_the_guide():
    def model():
        with ppl.plate("p", 3):
            ppl.sample("z", Normal(0.0, 1.0))

    def guide():
        with ppl.plate("p", 3, dim=-2):
            ppl.sample("z", Normal(0.0, 1.0))

    with pytest.raises(
        ValueError,
        match=(
            r"plate 'p' has size 3 at dim -2 in the guide \(sites 'z'\) but size 3 at dim -1 "
            r"in the model \(site 'z'\); give it the same size and dim= in both"
        ),
    ):
        check_plates_match(trace(model).get_trace(), trace(guide).get_trace())


def test_plates_only_in_the_model_and_the_particle_plate_pass():
    guide = AutoNormal(_plated_model)
    guide(DATA)
    check_plates_match(*_pair(_vectorized(_plated_model), _vectorized(guide), DATA))
