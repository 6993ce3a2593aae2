"""All-hadronic t tbar H from its topology file (config/topology/tth_allhad.yaml): the slots,
classes and symmetry group it declares, the assignment table and the chi^2 with its Higgs term
checked by brute force, the symmetries of the comparison, and Pythia's t tbar H events read by
the parton finder (every event has t, tbar and H -> b bbar; the b bbar mass peaks at 125 GeV)."""
from __future__ import annotations

import itertools

import awkward as ak
import numpy as np
import pytest

from analysis import assignments, topology
from analysis.core.jagged import Columns
from analysis.core.kinematics import four_vectors, invariant_mass, pair_masses
from analysis.events.particles import ChargeTable, FlatRecord, hard_process
from analysis.events.pythia import GeneratorSettings, PythiaRun
from analysis.methods.chi2 import Chi2Settings, assignment_chi2, best_assignment
from analysis.methods.permutations import btag_allowed, count, table
from analysis.partons import PARTON_FIELDS, find_partons
from analysis.topology import ROOT, TopologyError

from .test_chi2 import two_body
from .test_partons import full_record_as_delphes

TTH = topology.load(ROOT / "config" / "topology" / "tth_allhad.yaml")
SETTINGS = Chi2Settings(sigma_top=15.0, sigma_w=10.0, n_jets=9, btag_aware=False, sigma_pairs=(12.0,))
SWAPS = {"t <-> tbar": [3, 4, 5, 0, 1, 2, 6, 7], "q <-> q' (top)": [0, 2, 1, 3, 4, 5, 6, 7],
         "q <-> q' (antitop)": [0, 1, 2, 3, 5, 4, 6, 7], "b <-> b (Higgs)": [0, 1, 2, 3, 4, 5, 7, 6]}
"""Each generator of the t tbar H symmetry group as a reordering of the slots."""


def test_the_file_declares_slots_classes_and_symmetries():
    assert TTH.slot_names == ("b1", "q1_1", "q2_1", "b2", "q1_2", "q2_2", "bh1", "bh2")
    assert TTH.class_names == ("b1", "W1", "b2", "W2", "H", "other")
    assert TTH.slot_classes == (0, 1, 1, 2, 3, 3, 4, 4) and TTH.other_class == 5
    assert [(c.particle, c.charge, c.slots) for c in TTH.cascades] == [("t1", 1, (0, 1, 2)), ("t2", -1, (3, 4, 5))]
    assert [(p.particle, p.charge, p.resonance.pdg_id, p.resonance.mass, p.pair) for p in TTH.pairs] == \
        [("h", 0, 25, 125.0, (6, 7))]
    assert TTH.symmetric_slots == ((1, 2), (4, 5), (6, 7)) and TTH.pair_slots == ((6, 7),)
    assert TTH.particle_permutations == ((0, 1, 2), (1, 0, 2))
    assert TTH.class_permutations == ((0, 1, 2, 3, 4, 5), (2, 3, 0, 1, 4, 5))
    assert TTH.multiplicity == 16  # 2 top labellings x 2 x 2 W quark orders x 2 Higgs b orders
    assert TTH.b_slots == (0, 3, 6, 7)
    assert TTH.cascade_resonances == topology.TOPOLOGY.cascade_resonances  # the same top and W
    assert TTH.event_file(["pt", "btag"])["PERMUTATIONS"] == \
        {"EVENT": [["t1", "t2"]], "t1": [["q1", "q2"]], "t2": [["q1", "q2"]], "h": [["b1", "b2"]]}
    assert TTH.event_file(["pt"])["EVENT"]["h"] == ["b1", "b2"]
    assert topology.TOPOLOGY.pairs == ()  # t tbar: no two-body decay


def test_a_higgs_that_is_not_a_symmetric_pair_is_refused(tmp_path):
    import yaml
    content = yaml.safe_load((ROOT / "config" / "topology" / "tth_allhad.yaml").read_text())
    del content["PERMUTATIONS"]["h"]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    with pytest.raises(TopologyError, match=r"bad.yaml: key 'PERMUTATIONS.h'.*interchangeable"):
        topology.load(path)


def physics(row) -> frozenset:
    """An assignment as the physics it states, independent of any labelling: the tops as
    (b, {q, q'}) and the Higgs as {b, b}."""
    b1, q11, q21, b2, q12, q22, h1, h2 = row
    tops = frozenset({(b1, frozenset({q11, q21})), (b2, frozenset({q12, q22}))})
    return frozenset({tops, frozenset({h1, h2})})


@pytest.mark.parametrize("n", [8, 9])
def test_the_table_holds_every_distinct_assignment_once(n):
    """Brute force over every labelled assignment of n jets to the 8 slots."""
    rows = table(n, TTH)
    assert len(rows) == count(n, TTH) == {8: 2520, 9: 22680}[n]
    distinct = {physics(r) for r in itertools.permutations(range(n), 8)}
    assert len(distinct) == len(rows) and {physics(r) for r in rows} == distinct


def random_jets(rng, n_events: int, n_jets: int) -> tuple[np.ndarray, ...]:
    return (rng.uniform(30, 250, (n_events, n_jets)), rng.uniform(-2.4, 2.4, (n_events, n_jets)),
            rng.uniform(-np.pi, np.pi, (n_events, n_jets)), rng.uniform(4, 25, (n_events, n_jets)))


def test_chi2_is_the_talks_plus_the_higgs_term_and_blind_to_every_symmetry():
    rng = np.random.default_rng(8)
    pt, eta, phi, mass = random_jets(rng, 40, 9)
    p4 = four_vectors(pt, eta, phi, mass)
    slots = np.stack([rng.permutation(9)[:8] for _ in range(40)])
    reference = assignment_chi2(p4, slots, SETTINGS, TTH)
    ttbar_part = assignment_chi2(p4, slots[:, :6], SETTINGS)
    m_bb = pair_masses(p4, slots, ((6, 7),))[:, 0]
    np.testing.assert_allclose(reference, ttbar_part + ((m_bb - 125.0) / 12.0) ** 2)
    for name, order in SWAPS.items():
        np.testing.assert_allclose(assignment_chi2(p4, slots[:, order], SETTINGS, TTH), reference, err_msg=name)


@pytest.mark.parametrize("aware", [False, True])
def test_best_assignment_is_the_brute_force_minimum(aware):
    """The columnar minimum over the table equals the minimum over every labelled assignment of
    the leading 9 jets (b-tag rule applied to both)."""
    rng = np.random.default_rng(5)
    pt, eta, phi, mass = random_jets(rng, 12, 9)
    btag = (rng.uniform(size=(12, 9)) < 0.4).astype(int)
    s = Chi2Settings(**{**SETTINGS.__dict__, "btag_aware": aware})
    slots, chi2 = best_assignment(pt, eta, phi, mass, btag, np.full(12, 9), s, TTH)
    every = np.array(list(itertools.permutations(range(9), 8)))
    p4 = four_vectors(pt, eta, phi, mass)
    for event in range(12):
        values = assignment_chi2(np.repeat(p4[event:event + 1], len(every), axis=0), every, s, TTH)
        if aware:
            values = np.where(btag_allowed(every, btag[event:event + 1] > 0, TTH)[0], values, np.inf)
        assert chi2[event] == pytest.approx(values.min(), rel=1e-5)
        assert assignment_chi2(p4[event:event + 1], slots[event:event + 1], s, TTH)[0] == \
            pytest.approx(values.min(), rel=1e-5)


def test_exact_partons_give_zero_for_the_right_assignment():
    rng = np.random.default_rng(4)
    for _ in range(10):
        partons = []
        for _top in range(2):
            top = four_vectors(rng.uniform(50, 300), rng.uniform(-1.5, 1.5), rng.uniform(-3, 3), 172.5)
            b, w = two_body(top, 4.8, 80.4, rng)
            partons += [b, *two_body(w, 0.0, 0.0, rng)]
        higgs = four_vectors(rng.uniform(50, 300), rng.uniform(-1.5, 1.5), rng.uniform(-3, 3), 125.0)
        partons += [*two_body(higgs, 4.8, 4.8, rng)]
        jets = np.array([*partons, four_vectors(40.0, 0.3, 1.0, 5.0)])
        order = rng.permutation(9)
        jets = jets[order]
        px, py, pz, _ = jets.T
        pt = np.hypot(px, py)
        truth = np.array([[int(np.flatnonzero(order == k)[0]) for k in range(8)]])
        s = Chi2Settings(**{**SETTINGS.__dict__, "sigma_pairs": (12.0,)})
        slots, chi2 = best_assignment(pt[None], np.arcsinh(pz / pt)[None], np.arctan2(py, px)[None],
                                      invariant_mass(jets)[None], np.zeros((1, 9)), np.array([9]), s, TTH)
        assert chi2[0] == pytest.approx(0.0, abs=1e-6)
        assert assignments.correct(slots, truth, TTH)[0]


def test_the_chi2_needs_a_width_for_the_higgs():
    with pytest.raises(ValueError, match="tth_allhad.*1 two-body decays.*'h'.*0 widths"):
        best_assignment(*random_jets(np.random.default_rng(0), 2, 8), np.zeros((2, 8)), np.full(2, 8),
                        Chi2Settings(n_jets=8), TTH)


def test_correct_is_blind_to_every_symmetry_and_sees_every_other_change():
    rng = np.random.default_rng(2)
    truth = np.stack([rng.permutation(10)[:8] for _ in range(200)])
    for name, order in SWAPS.items():
        assert assignments.correct(truth[:, order], truth, TTH).all(), name
    swapped = truth.copy()
    swapped[:, [0, 6]] = swapped[:, [6, 0]]  # a top's b given to the Higgs and back: other physics
    assert not assignments.correct(swapped, truth, TTH).any()
    assert not assignments.correct(truth[:, [0, 1, 6, 3, 4, 5, 2, 7]], truth, TTH).any()


@pytest.fixture(scope="module")
def tth_batch():
    run = PythiaRun(GeneratorSettings(process="tth_allhad", seed=21))
    return run, next(run.batches(300, 300))


def test_generated_tth_has_both_tops_and_a_higgs_to_b_bbar_at_125_gev(tth_batch):
    run, batch = tth_batch
    fields, counts = hard_process(FlatRecord.from_batch(batch), ChargeTable(run.charge))
    short = ak.unflatten(ak.zip({f: fields[f] for f in PARTON_FIELDS}), counts)
    partons = find_partons(Columns.of(short, PARTON_FIELDS), TTH).to_awkward()
    assert ak.all(ak.num(partons) == 8)  # every event: t -> b W+ -> b q q', tbar likewise, H -> b bbar
    pid = ak.to_numpy(partons.pid)
    assert (pid[:, 0] == 5).all() and (pid[:, 3] == -5).all()
    assert (np.abs(pid[:, [1, 2, 4, 5]]) <= 5).all()
    charge = ChargeTable(run.charge)(pid.ravel()).reshape(pid.shape)
    np.testing.assert_allclose(charge[:, 1] + charge[:, 2], 1.0)  # W+ -> q qbar'
    np.testing.assert_allclose(charge[:, 4] + charge[:, 5], -1.0)  # W-
    assert (np.abs(pid[:, 6:]) == 5).all() and (pid[:, 6] == -pid[:, 7]).all()
    pt = ak.to_numpy(partons.pt)
    assert (pt[:, 6] >= pt[:, 7]).all() and (pt[:, 1] >= pt[:, 2]).all()
    p4 = four_vectors(pt, ak.to_numpy(partons.eta), ak.to_numpy(partons.phi), ak.to_numpy(partons.mass))
    m_bb = invariant_mass(p4[:, 6] + p4[:, 7])
    assert abs(np.median(m_bb) - 125.0) < 1.0
    assert abs(np.median(invariant_mass(p4[:, 0] + p4[:, 1] + p4[:, 2])) - 172.5) < 1.5
    from_full = find_partons(Columns.of(full_record_as_delphes(batch), PARTON_FIELDS), TTH).to_awkward()
    assert ak.to_list(from_full.pid) == ak.to_list(partons.pid)  # the full shower record agrees
    ttbar_only = find_partons(Columns.of(short, PARTON_FIELDS)).to_awkward()
    np.testing.assert_array_equal(ak.to_numpy(ttbar_only.pid), pid[:, :6])  # t tbar partons unchanged


def test_the_config_chooses_the_topology_and_drops_what_cannot_run_on_it():
    from analysis import config as configlib

    data = configlib.read_yaml(ROOT / "config" / "test_tth.yaml")
    cfg = configlib.from_dict(data)
    assert cfg.topology is TTH
    assert cfg.baselines.not_run == {"klfitter": "KLFitter has no likelihood for t tbar H, so neither has this fit"}
    assert cfg.methods() == ["saja", "spanet", "chi2_8", "chi2_8_nobtag"]
    assert cfg.stage_config("split")["topology"]["EVENT"]["h"] == ["b1", "b2"]
    assert configlib.load(ROOT / "config" / "test.yaml").topology is topology.TOPOLOGY
    with pytest.raises(configlib.ConfigError, match=r"key 'topology': file .*nope.yaml not found.*tth_allhad.yaml"):
        configlib.from_dict({**configlib.read_yaml(ROOT / "config" / "test_tth.yaml"), "topology": "config/nope.yaml"})
