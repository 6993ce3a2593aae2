"""Exclusive Delta R matching: known answers, the loop reference, physics closure."""
from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pytest

from analysis.matching import Pairs, jet_labels, positions
from analysis.stages.skim import run_skim
from analysis.topology import BACKGROUND, MATCHED, TOPOLOGY, UNMATCHED

from . import reference
from .conftest import files_config
from .delphes_builders import ttbar_record, write_delphes

pytestmark = pytest.mark.xdist_group("pipeline")  # one worker builds the shared pipeline fixture


def match_lists(jets, partons, dr_max):
    """Columnar matching of events given as lists of (eta, phi) jets and partons."""
    flat = np.array([jet for event in jets for jet in event], dtype=float).reshape(-1, 2)
    partons = np.array(partons, dtype=float)
    pairs = Pairs(flat[:, 0], flat[:, 1], np.array([len(event) for event in jets]), partons[..., 0], partons[..., 1])
    return pairs.match(dr_max).tolist()


def match_one(jets, partons, dr_max=0.3):
    return match_lists([jets], [partons], dr_max)[0]


def test_nearest_pair_wins_a_contested_jet():
    # jet 0 is 0.10 from parton 0 and 0.05 from parton 1; jet 1 is 0.2 from parton 0
    jets = [(0.0, 0.0), (0.3, 0.0)]
    partons = [(0.1, 0.0), (-0.05, 0.0)]
    assert match_one(jets, partons) == [1, 0]
    # without jet 1, parton 0 stays unmatched: jets are used once
    assert match_one(jets[:1], partons) == [-1, 0]


def test_exact_ties_go_to_the_first_jet_then_the_first_parton():
    assert match_one([(0.0, 0.0)], [(0.1, 0.0), (-0.1, 0.0)]) == [0, -1]
    assert match_one([(0.1, 0.0), (-0.1, 0.0)], [(0.0, 0.0)]) == [0]
    assert match_one([(0.0, 0.1), (0.0, -0.1)], [(0.0, 0.0), (0.0, 0.2)]) == [0, -1]  # jet 0 twice tied
    assert match_lists([[(0.0, 0.0)], [], [(0.5, 1.0)]], [[(0.1, 0.0)], [(0.0, 0.0)], [(0.5, 1.1)]], 0.3) == [[0], [-1], [0]]


def test_delta_phi_wraps_at_pi():
    assert match_one([(0.0, 3.10)], [(0.0, -3.10)]) == [0]             # dR = 2 pi - 6.2 = 0.083
    assert match_one([(0.0, np.pi)], [(0.0, -np.pi + 0.2)]) == [0]
    assert match_one([(0.0, 3.0)], [(0.0, -3.0)]) == [0]                # 2 pi - 6.0 = 0.283
    assert match_one([(0.0, 2.9)], [(0.0, -2.9)]) == [-1]               # 2 pi - 5.8 = 0.483


def test_threshold_is_strict():
    assert match_one([(0.0, 0.0)], [(0.3, 0.0)]) == [-1]
    assert match_one([(0.0, 0.0)], [(0.2999, 0.0)]) == [0]


def random_events(n, rng):
    """Crowded events: up to 12 jets and 6 partons in a small eta-phi patch wrapping at phi = pi."""
    n_jets = rng.integers(0, 13, n)
    jets = [[(rng.uniform(-1, 1), rng.uniform(2.6, 3.7) % (2 * np.pi) - np.pi) for _ in range(k)] for k in n_jets]
    partons = [[(rng.uniform(-1, 1), rng.uniform(2.6, 3.7) % (2 * np.pi) - np.pi) for _ in range(6)]
               for _ in range(n)]
    return jets, partons


def test_columnar_matching_agrees_with_the_loop_on_crowded_events():
    rng = np.random.default_rng(5)
    jets, partons = random_events(3000, rng)
    for dr_max in (0.3, 0.6):
        columnar = match_lists(jets, partons, dr_max)
        loop = [reference.match_event(j, p, dr_max) for j, p in zip(jets, partons, strict=True)]
        assert columnar == loop
        assert 0.05 < (np.array(columnar) >= 0).mean() < 0.95  # crowded enough to make choices


def test_columnar_matching_agrees_with_the_loop_on_generated_ttbar(pipeline):
    events = ak.from_parquet(pipeline.skim["ttbar"])
    for dr_max in pipeline.cfg.matching.dr_scan:
        parton_jet = Pairs.of(*positions(events), len(TOPOLOGY.slots)).match(dr_max)  # as the match stage does
        assert parton_jet.tolist() == reference.match_events(events, dr_max)


def test_labels_and_categories_through_the_stages(tmp_path):
    etas = [-1.5, -0.9, -0.3, 0.3, 0.9, 1.5]
    phis = [0.0, 1.0, 2.0, 3.1, -2.0, -1.0]
    # jets at the partons (slightly off), listed in pT order, plus one extra jet
    order = [2, 0, 5, 1, 4, 3]
    matched_jets = [(200.0 - 10 * k, etas[s] + 0.05, phis[s] - 0.05, int(s in (0, 3))) for k, s in enumerate(order)]
    matched_jets.append((45.0, 2.2, 0.0, 0))
    far = list(matched_jets)
    far[1] = (190.0, etas[0] + 0.5, phis[0], 1)  # the b1 jet moved 0.5 away
    record = ttbar_record(etas, phis)
    path = write_delphes(tmp_path / "events.root", [matched_jets, far, matched_jets],
                         particles=[record, record, []])
    cfg = files_config(tmp_path, {"tt": path})
    from analysis.stages.match import run_match

    run_skim(cfg, {"files": [path]}, {"skim": tmp_path / "skim.parquet", "cutflow": tmp_path / "cutflow.json"},
             {"sample": "tt"})
    summary = run_match(cfg, {"skim": tmp_path / "skim.parquet"},
                        {"matched": tmp_path / "m.parquet", "tables": tmp_path / "m.json"}, {"sample": "tt"})
    assert summary["events"] == {"matched": 1, "unmatched": 1, "background": 1}
    events = ak.from_parquet(tmp_path / "m.parquet")
    assert events.category.tolist() == [MATCHED, UNMATCHED, BACKGROUND]
    slot_of_jet = {jet: slot for jet, slot in enumerate(order)}
    expected = [["b1", "W1", "W1", "b2", "W2", "W2"][slot_of_jet[j]] for j in range(6)] + ["other"]
    assert [TOPOLOGY.class_names[i] for i in events.jet_label[0]] == expected
    assert events.parton_jet[0].tolist() == [order.index(s) for s in range(6)]
    assert events.parton_jet[1].tolist()[0] == -1 and TOPOLOGY.class_names[events.jet_label[1][1]] == "other"
    assert events.jet_label[2].tolist() == [TOPOLOGY.class_names.index("other")] * 7


def test_jet_labels_from_parton_slots():
    labels = jet_labels(np.array([[2, 0, 1, 5, 4, 3], [-1] * 6]), np.array([7, 2]), TOPOLOGY)
    assert [[TOPOLOGY.class_names[i] for i in ev] for ev in labels.tolist()] == [
        ["W1", "W1", "b1", "W2", "W2", "b2", "other"], ["other", "other"]]


def test_matched_fraction_closure(pipeline):
    """Paper: about 20 % of selected ttbar events are fully matched at Delta R < 0.3; the
    fraction rises with Delta R_max."""
    tables = json.loads(pipeline.tables["ttbar"].read_text())
    scan = tables["matched_fraction_vs_dr"]
    fraction = dict(zip(scan["dr_max"], scan["fraction"], strict=True))
    assert 0.10 < fraction[0.3] < 0.40
    assert np.all(np.diff(scan["matched"]) >= 0) and scan["fraction"][-1] > scan["fraction"][0]
    matched = tables["events"]["matched"]
    assert scan["matched"][scan["dr_max"].index(0.3)] == matched
    assert sum(tables["n_jets_matched"]["events"]) == matched
    assert min(tables["n_jets_matched"]["n_jets"]) >= 6
    leading = tables["fraction_within_leading_n"]["fraction"]
    assert np.all(np.diff(leading) >= 0) and leading[-1] == pytest.approx(1.0) and leading[0] < 1.0


def test_qcd_is_background(pipeline):
    tables = json.loads(pipeline.tables["qcd"].read_text())
    assert tables["events"]["matched"] == tables["events"]["unmatched"] == 0
    assert tables["ttbar_events"] == 0
