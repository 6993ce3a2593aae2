"""The KLFitter-style kinematic likelihood: known answers, symmetries, and the batched fit
against the per-row Minuit reference."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from analysis import assignments
from analysis.core.kinematics import four_vectors, invariant_mass
from analysis.methods.klfitter import Likelihood, LikelihoodSettings, best_assignment, fit_batch, fit_one, prepare
from analysis.methods.permutations import btag_allowed, table
from analysis.methods.transfer_functions import ResponseModel

from .test_chi2 import two_body

MODELS = [ResponseModel(m0=0.0, m1=0.0, s0=0.06, s1=0.9, s2=1.0, alpha=1.3, n=4.0)] * 4  # unbiased response
LIKELIHOOD = Likelihood(MODELS, LikelihoodSettings())


def ttbar_jets(rng, smearing: float = 0.0) -> tuple[np.ndarray, ...]:
    """pt, eta, phi, mass of six jets from exact t -> b W -> b q q' decays (m_t = 172.5,
    m_W = 80.4) in slot order, their energies smeared by a Gaussian of relative width `smearing`."""
    partons = []
    for _top in range(2):
        top = four_vectors(rng.uniform(50, 250), rng.uniform(-1.5, 1.5), rng.uniform(-3, 3), 172.5)
        b, w = two_body(top, 4.7, 80.4, rng)
        q1, q2 = two_body(w, 0.0, 0.0, rng)
        partons += [b, q1, q2]
    p4 = np.array(partons)
    p4 *= np.clip(1 + smearing * rng.normal(size=6), 0.3, None)[:, None]
    px, py, pz, _ = p4.T
    pt = np.hypot(px, py)
    return pt, np.arcsinh(pz / pt), np.arctan2(py, px), invariant_mass(p4)


def test_exact_partons_give_the_best_likelihood_to_the_right_assignment():
    """All 90 rows of six shuffled jets that are the exact partons: the right one wins, at the
    true top mass. (With a seventh jet the rows compare different jet sets, whose -log L differ
    by the transfer functions' 1/E_parton Jacobians: no known answer there.)"""
    rng = np.random.default_rng(2)
    for _ in range(6):
        order = rng.permutation(6)
        jets = np.column_stack(ttbar_jets(rng))[order]
        truth = np.array([[int(np.flatnonzero(order == k)[0]) for k in range(6)]])
        slots, value, top_mass = best_assignment(LIKELIHOOD, *(jets[None, :, i] for i in range(4)),
                                                 np.zeros((1, 6), int), np.array([6]), 6, True)
        assert assignments.correct(slots, truth)[0]
        assert abs(top_mass[0] - 172.5) < 1.0


def test_likelihood_and_fit_are_blind_to_top_and_quark_swaps():
    rng = np.random.default_rng(3)
    pt, eta, phi = rng.uniform(30, 200, (1, 7)), rng.uniform(-2, 2, (1, 7)), rng.uniform(-3, 3, (1, 7))
    mass = rng.uniform(5, 15, (1, 7))
    swaps = ([0, 1, 2, 3, 4, 5], [3, 4, 5, 0, 1, 2], [0, 2, 1, 3, 5, 4], [3, 5, 4, 0, 2, 1])
    slots = np.array([[0, 1, 2, 3, 4, 5]])[:, swaps][0]
    jets, cats = prepare(*(np.repeat(a, len(swaps), 0) for a in (pt, eta, phi, mass)), slots)
    theta = torch.tensor(rng.uniform(-0.2, 0.2, 7))
    theta[6] = 175.0
    thetas = torch.stack([torch.cat([theta[order], theta[6:]]) for order in swaps])
    direct = LIKELIHOOD(thetas, jets, cats)
    np.testing.assert_allclose(direct.numpy(), direct[0].item(), rtol=1e-12)
    value, _ = fit_batch(LIKELIHOOD, jets, cats)
    np.testing.assert_allclose(value.numpy(), value[0].item(), rtol=1e-6)


def test_batched_fit_agrees_with_minuit_from_the_same_starts():
    """Every row of 16 smeared ttbar events (two b tags: 6 rows each) fitted both ways."""
    rng = np.random.default_rng(11)
    rows = table(6)
    tagged = np.zeros((1, 6), bool)
    tagged[0, [0, 3]] = True
    rows = rows[btag_allowed(rows, tagged)[0]]
    events = [ttbar_jets(rng, smearing=0.12) for _ in range(16)]
    kinematics = [np.repeat(np.array([e[i] for e in events]), len(rows), 0) for i in range(4)]
    slots = np.tile(rows, (len(events), 1))
    jets, cats = prepare(*kinematics, slots)
    batched, _ = fit_batch(LIKELIHOOD, jets, cats)
    reference = np.array([fit_one(LIKELIHOOD, jets[i], cats[i])[0] for i in range(len(jets))])
    batched = batched.numpy().reshape(len(events), -1)
    reference = reference.reshape(len(events), -1)
    best_batched, best_reference = batched.argmin(axis=1), reference.argmin(axis=1)
    assert np.mean(best_batched == best_reference) >= 0.99
    best = np.arange(len(events)), best_reference
    np.testing.assert_allclose(batched[best], reference[best], rtol=1e-3)
    assert np.mean(np.abs(batched - reference) < 1e-3 * np.abs(reference)) >= 0.95  # every row, not just the best


@pytest.mark.parametrize("n_real", [5, 6])
def test_too_few_jets_give_no_assignment_and_enough_give_one(n_real):
    rng = np.random.default_rng(5)
    pt, eta, phi, mass = (np.pad(a, (0, 1))[None] for a in ttbar_jets(rng, 0.05))
    slots, value, _ = best_assignment(LIKELIHOOD, pt, eta, phi, mass, np.zeros((1, 7), int), np.array([n_real]), 6,
                                      True)
    assert (slots[0] >= 0).all() == (n_real == 6) and np.isfinite(value[0]) == (n_real == 6)
