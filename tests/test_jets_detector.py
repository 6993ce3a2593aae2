"""Jets: clustering against a direct FastJet call, detector response closure, b-tag rates."""
from __future__ import annotations

import fastjet
import numpy as np
import pytest

from analysis.core.kinematics import wrap_phi
from analysis.events import jets as jetlib
from analysis.events.detector import Candidates, btag, reconstruct
from analysis.events.particles import ChargeTable, FlatRecord, flavour_partons, visible_final_state
from analysis.events.pythia import GeneratorSettings, PythiaRun


@pytest.fixture(scope="module")
def batch():
    run = PythiaRun(GeneratorSettings(process="ttbar_allhad", seed=31))
    return next(run.batches(600, 600)), ChargeTable(run.charge)


@pytest.fixture(scope="module")
def truth_and_reco(batch, reco):
    events, charge = batch
    record = FlatRecord.from_batch(events)
    visible = visible_final_state(record, charge, reco.response.calorimeter_eta_max)
    truth = Candidates(visible.counts, np.zeros(len(visible.pid), dtype=np.int8), visible.charge,
                       visible.px, visible.py, visible.pz, visible.e)
    smeared = reconstruct(visible, reco.response, np.random.default_rng(5))
    return record, truth, smeared


def test_clustering_matches_direct_fastjet_call(truth_and_reco, reco):
    _, truth, _ = truth_and_reco
    jets = jetlib.cluster(truth, reco.jet_radius, reco.jet_pt_min)
    definition = fastjet.JetDefinition(fastjet.antikt_algorithm, reco.jet_radius)
    first = np.concatenate([[0], np.cumsum(truth.counts)])
    jet_first = np.concatenate([[0], np.cumsum(jets.counts)])
    for event in range(50):
        rows = slice(first[event], first[event + 1])
        pseudojets = [fastjet.PseudoJet(*map(float, p)) for p in
                      zip(truth.px[rows], truth.py[rows], truth.pz[rows], truth.e[rows], strict=True)]
        sequence = fastjet.ClusterSequence(pseudojets, definition)
        direct = fastjet.sorted_by_pt(sequence.inclusive_jets(reco.jet_pt_min))
        ours = slice(jet_first[event], jet_first[event + 1])
        np.testing.assert_allclose(jets.fields["PT"][ours], [j.pt() for j in direct], rtol=1e-9)
        np.testing.assert_allclose(jets.fields["Eta"][ours], [j.eta() for j in direct], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(jets.fields["Mass"][ours], [j.m() for j in direct], rtol=1e-6, atol=1e-6)
        assert list(jets.constituent_counts[ours]) == [len(j.constituents()) for j in direct]


def test_mean_jet_response_is_one_at_high_pt(truth_and_reco, reco):
    _, truth, smeared = truth_and_reco
    gen = jetlib.cluster(truth, reco.jet_radius, 20.0)
    rec = jetlib.cluster(smeared, reco.jet_radius, 10.0)
    ratios = []
    gen_first, rec_first = np.cumsum(gen.counts) - gen.counts, np.cumsum(rec.counts) - rec.counts
    for event in range(len(gen.counts)):
        g = slice(gen_first[event], gen_first[event] + gen.counts[event])
        r = slice(rec_first[event], rec_first[event] + rec.counts[event])
        if not rec.counts[event]:
            continue
        for pt, eta, phi in zip(gen.fields["PT"][g], gen.fields["Eta"][g], gen.fields["Phi"][g], strict=True):
            if pt < 100 or abs(eta) > 2.4:
                continue
            dr2 = (rec.fields["Eta"][r] - eta) ** 2 + wrap_phi(rec.fields["Phi"][r] - phi) ** 2
            best = np.argmin(dr2)
            if dr2[best] < 0.2**2:
                ratios.append(rec.fields["PT"][r][best] / pt)
    ratios = np.array(ratios)
    assert len(ratios) > 300
    assert np.mean(ratios) == pytest.approx(1.0, abs=0.02)
    assert 0.02 < np.std(ratios) < 0.2, "resolution should be a few to ~15 % at 100+ GeV"


def test_btag_rates_per_flavour_match_the_card(truth_and_reco, reco):
    record, _, smeared = truth_and_reco
    jets = jetlib.cluster(smeared, reco.jet_radius, reco.jet_pt_min)
    partons, counts = flavour_partons(record, reco.flavour_parton_pt_min, reco.flavour_parton_eta_max)
    flavour = jetlib.flavour(jets, partons, counts, reco.flavour_delta_r)
    pt = jets.fields["PT"]
    # repeat the tagging to beat down statistics: 20 independent draws of the same jets
    rng = np.random.default_rng(11)
    tags = np.stack([btag(flavour, pt, reco.btag, rng) for _ in range(20)])
    for name, selected in (("b", flavour == 5), ("c", flavour == 4), ("light", (flavour != 5) & (flavour != 4))):
        assert selected.sum() > 100, f"too few {name} jets for the test"
        expected = reco.btag[name](pt[selected]).mean()
        observed = tags[:, selected].mean()
        sigma = np.sqrt(expected * (1 - expected) / tags[:, selected].size)
        assert abs(observed - expected) < 4 * sigma + 1e-4, (name, observed, expected)
    assert tags[:, flavour == 5].mean() > 0.5 > tags[:, flavour == 21].mean()


def test_jet_shapes_are_physical(truth_and_reco, reco):
    _, _, smeared = truth_and_reco
    jets = jetlib.cluster(smeared, reco.jet_radius, reco.jet_pt_min)
    jetlib.add_shapes(jets, smeared)
    f = jets.fields
    assert np.all((f["PTD"] > 0) & (f["PTD"] <= 1 + 1e-12))
    assert np.all(f["AxisMinor"] <= f["AxisMajor"] + 1e-12)
    assert np.all(f["AxisMajor"] < reco.jet_radius)
    total = sum(f[b] for b in jetlib.SHAPE_BRANCHES[3:])
    np.testing.assert_array_equal(total, jets.constituent_counts)
    np.testing.assert_array_equal(f["NCharged"] + f["NNeutrals"], jets.constituent_counts)
    single = jets.constituent_counts == 1
    np.testing.assert_allclose(f["PTD"][single], 1.0)
