"""The chi^2 baseline: permutation tables, symmetries, a known answer, and real events."""
from __future__ import annotations

import itertools

import awkward as ak
import numpy as np
import pytest

from analysis import assignments
from analysis.core.kinematics import four_vectors, invariant_mass
from analysis.datasets import build_table
from analysis.methods.chi2 import Chi2Settings, assignment_chi2, best_assignment
from analysis.methods.permutations import btag_allowed, count, table
from analysis.topology import MATCHED

SETTINGS = Chi2Settings(m_top=172.5, m_w=80.4, sigma_top=15.0, sigma_w=10.0, n_jets=7, btag_aware=False)


@pytest.mark.parametrize("n", [6, 7, 8])
def test_tables_hold_every_assignment_once(n):
    rows = table(n)
    assert len(rows) == count(n) == {6: 90, 7: 630, 8: 2520}[n]
    canonical = {tuple(r) for r in assignments.canonical(rows)}
    assert len(canonical) == len(rows)  # no two rows are the same physics
    every = np.array(list(itertools.permutations(range(n), 6)))
    assert {tuple(r) for r in assignments.canonical(every)} == canonical  # nothing missing


def test_chi2_is_blind_to_top_and_quark_swaps():
    rng = np.random.default_rng(0)
    p4 = four_vectors(rng.uniform(30, 200, (50, 7)), rng.uniform(-2, 2, (50, 7)), rng.uniform(-3, 3, (50, 7)),
                      rng.uniform(5, 20, (50, 7)))
    slots = np.stack([rng.permutation(7)[:6] for _ in range(50)])
    reference = assignment_chi2(p4, slots, SETTINGS)
    for order in ([3, 4, 5, 0, 1, 2], [0, 2, 1, 3, 4, 5], [0, 1, 2, 3, 5, 4], [3, 5, 4, 0, 2, 1]):
        np.testing.assert_allclose(assignment_chi2(p4, slots[:, order], SETTINGS), reference)


def two_body(parent: np.ndarray, m1: float, m2: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """Decay `parent` (px, py, pz, E) isotropically into masses m1, m2: exact four-vectors."""
    m = invariant_mass(parent)
    p = np.sqrt((m**2 - (m1 + m2) ** 2) * (m**2 - (m1 - m2) ** 2)) / (2 * m)
    cos, phi = rng.uniform(-1, 1), rng.uniform(0, 2 * np.pi)
    direction = np.array([np.sqrt(1 - cos**2) * np.cos(phi), np.sqrt(1 - cos**2) * np.sin(phi), cos])
    rest = [np.append(sign * p * direction, np.sqrt(p**2 + mass**2)) for sign, mass in ((1, m1), (-1, m2))]
    beta = parent[:3] / parent[3]
    gamma = parent[3] / m
    out = []
    for v in rest:
        bp = beta @ v[:3]
        space = v[:3] + ((gamma - 1) * bp / (beta @ beta) + gamma * v[3]) * beta
        out.append(np.append(space, gamma * (v[3] + bp)))
    return out[0], out[1]


def test_exact_partons_give_zero_for_the_right_assignment():
    rng = np.random.default_rng(4)
    for _ in range(20):
        partons = []
        for _top in range(2):
            pt = rng.uniform(50, 300)
            top = four_vectors(pt, rng.uniform(-1.5, 1.5), rng.uniform(-3, 3), 172.5)
            b, w = two_body(top, 4.8, 80.4, rng)
            q1, q2 = two_body(w, 0.0, 0.0, rng)
            partons += [b, q1, q2]
        extra = four_vectors(40.0, 0.3, 1.0, 5.0)
        jets = np.array(partons + [extra])
        order = rng.permutation(7)
        jets = jets[order]
        px, py, pz, e = jets.T
        pt, eta, phi = np.hypot(px, py), np.arcsinh(pz / np.hypot(px, py)), np.arctan2(py, px)
        mass = invariant_mass(jets)
        btag = np.isin(order, [0, 3]).astype(int)
        truth = np.array([[int(np.flatnonzero(order == k)[0]) for k in range(6)]])
        for aware in (False, True):
            s = Chi2Settings(sigma_top=15.0, sigma_w=10.0, n_jets=7, btag_aware=aware)
            slots, chi2 = best_assignment(pt[None], eta[None], phi[None], mass[None], btag[None], np.array([7]), s)
            assert chi2[0] == pytest.approx(0.0, abs=1e-8)
            assert assignments.correct(slots, truth)[0]


def test_btag_aware_puts_tagged_jets_in_b_slots():
    rng = np.random.default_rng(1)
    n = 200
    pt, eta, phi, mass = (rng.uniform(30, 150, (n, 7)), rng.uniform(-2, 2, (n, 7)), rng.uniform(-3, 3, (n, 7)),
                          rng.uniform(5, 15, (n, 7)))
    btag = np.zeros((n, 7), int)
    btag[:, [1, 4]] = 1
    s = Chi2Settings(sigma_top=15.0, sigma_w=10.0, n_jets=7, btag_aware=True)
    slots, _ = best_assignment(pt, eta, phi, mass, btag, np.full(n, 7), s)
    assert np.all(np.sort(slots[:, [0, 3]], axis=1) == [1, 4])
    few, _ = best_assignment(pt[:, :5], eta[:, :5], phi[:, :5], mass[:, :5], btag[:, :5], np.full(n, 5), s)
    assert (few == -1).all()


@pytest.mark.parametrize(("tags", "rows"), [((), 90), ((2,), 30), ((0, 5), 6), ((0, 1, 4), 18)])
def test_btag_rule_counts_and_never_puts_a_lone_tag_on_a_w(tags, rows):
    tagged = np.zeros((1, 6), bool)
    tagged[0, list(tags)] = True
    allowed = btag_allowed(table(6), tagged)[0]
    assert allowed.sum() == rows
    in_b = np.isin(table(6)[allowed][:, [0, 3]], tags).sum(axis=1)
    assert (in_b == min(len(tags), 2)).all()


@pytest.mark.xdist_group("pipeline")
def test_on_generated_ttbar_far_better_than_random(pipeline):
    events = ak.from_parquet(pipeline.matched["ttbar"])
    t = build_table(events[events.category == MATCHED], 0, 20, shapes=False)
    n_real = t.inputs["MASK"].sum(axis=1)
    s = Chi2Settings(sigma_top=15.0, sigma_w=10.0, n_jets=7, btag_aware=True)
    slots, chi2 = best_assignment(t.inputs["pt"], t.inputs["eta"], t.inputs["phi"], t.inputs["mass"],
                                  t.inputs["btag"], n_real, s)
    ours = assignments.correct(slots, t.targets).mean()
    random = np.mean(1 / np.array([count(min(k, 7)) for k in n_real]))
    assert ours > 10 * random and np.isfinite(chi2).all()
