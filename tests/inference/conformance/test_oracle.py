"""The oracle against hand-written enumerations and closed forms.

The harness is only as good as its oracle, so the oracle is checked here on
cases whose exact ELBO is written out by hand: a plate of Bernoullis, a
Normal-Normal pair (closed form), a subsampled plate, a masked and a scaled
guide site, and a guide whose structure depends on a draw.
"""

import math

import torch

import distributions as dist
import ppl
from ppl import handlers

from .blocks import NonReparamNormal, f64
from .oracle import exact_elbo, exact_hessian, exact_loss_and_grad

X = f64([0.5, -1.0, 2.0])
PRIOR = 0.3


def _log_normal(x, loc, scale=1.0):
    return -0.5 * ((x - loc) / scale) ** 2 - math.log(scale) - 0.5 * math.log(2 * math.pi)


def _hand_plate_elbo(q1, mask=None, guide_scale=1.0):
    # Elements are independent: sum over elements of the two-point expectation.
    total = 0.0
    for i in range(3):
        for z in (0.0, 1.0):
            qz = q1[i] if z else 1 - q1[i]
            log_p = math.log(PRIOR if z else 1 - PRIOR) + _log_normal(X[i], 2 * z - 1)
            log_q = torch.log(qz) * guide_scale
            if mask is not None and not mask[i]:
                log_q = 0.0
            total = total + qz * (log_p - log_q)
    return total


def plate_model():
    with ppl.plate("p", 3):
        z = ppl.sample("z", dist.Bernoulli(f64(PRIOR)))
        ppl.sample("x", dist.Normal(2 * z - 1, 1.0), obs=X)


def plate_guide(mask=None, scale=1.0):
    logits = ppl.param("l", f64([0.2, -0.4, 0.9]))
    with ppl.plate("p", 3), handlers.mask(mask=True if mask is None else mask):
        with handlers.scale(scale=scale):
            ppl.sample("z", dist.Bernoulli(logits=logits))


def test_plate_of_bernoullis_matches_the_hand_enumeration():
    plate_guide()
    q1 = torch.sigmoid(ppl.get_param_store()["l"])
    torch.testing.assert_close(exact_elbo(plate_model, plate_guide), _hand_plate_elbo(q1))


def test_masked_guide_site_drops_log_q_but_keeps_the_full_sampling_law():
    mask = torch.tensor([True, False, True])
    plate_guide()
    q1 = torch.sigmoid(ppl.get_param_store()["l"])
    got = exact_elbo(plate_model, lambda: plate_guide(mask=mask))
    torch.testing.assert_close(got, _hand_plate_elbo(q1, mask=mask))
    got = exact_elbo(plate_model, lambda: plate_guide(scale=0.5))
    torch.testing.assert_close(got, _hand_plate_elbo(q1, guide_scale=0.5))


def test_normal_normal_matches_the_closed_form_with_its_gradient_and_hessian():
    def model():
        z = ppl.sample("z", dist.Normal(f64(0.0), 1.0))
        ppl.sample("x", dist.Normal(z, 1.0), obs=f64(1.5))

    def guide():
        m = ppl.param("m", f64(0.3))
        s = ppl.param("s", f64(0.7), constraint=dist.constraints.positive)
        ppl.sample("z", NonReparamNormal(m, s))

    guide()
    names = ["m", "s"]

    def closed_form():
        store = ppl.get_param_store()
        m, s = store["m"], store["s"]
        e_prior = -0.5 * (m**2 + s**2) - 0.5 * math.log(2 * math.pi)
        e_lik = -0.5 * ((1.5 - m) ** 2 + s**2) - 0.5 * math.log(2 * math.pi)
        entropy = 0.5 * math.log(2 * math.pi * math.e) + torch.log(s)
        return e_prior + e_lik + entropy

    got = exact_loss_and_grad(lambda: exact_elbo(model, guide), names)
    want = exact_loss_and_grad(closed_form, names)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(
        exact_hessian(lambda: exact_elbo(model, guide), names), exact_hessian(closed_form, names)
    )


def test_subsampled_plate_averages_over_every_subsample():
    data = f64([0.5, -1.0, 2.0, 0.1])

    def model():
        with ppl.plate("d", 4, subsample_size=2) as idx:
            ppl.sample("x", dist.Normal(f64(0.0), 1.0), obs=data[idx])

    def guide():
        pass

    # Each element appears in a subsample with probability 1/2 and is scaled by 2.
    want = sum(_log_normal(x, 0.0) for x in data.tolist())
    torch.testing.assert_close(exact_elbo(model, guide).item(), want)


def test_guide_structure_that_depends_on_a_draw_is_enumerated_per_branch():
    def model():
        b = ppl.sample("b", dist.Bernoulli(f64(0.5)))
        if b:
            ppl.sample("c", dist.Bernoulli(f64(0.5)))

    def guide():
        b = ppl.sample("b", dist.Bernoulli(f64(0.25)))
        if b:
            ppl.sample("c", dist.Bernoulli(f64(0.5)))

    # ELBO = -KL(q(b) || p(b)); c has q = p on its branch.
    want = -(0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5))
    torch.testing.assert_close(exact_elbo(model, guide).item(), want)
