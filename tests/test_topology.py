"""The topology file: it parses into what the modules used before it existed (known answers),
its symmetries are SPANet's, the event file the split writes is the one SPANet users write for
t tbar, the stages read it, bad files are refused naming the key, and editing it reruns what
depends on it."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import yaml

from analysis import assignments, datasets, spanet_h5, topology
from analysis import config as configlib
from analysis.core.provenance import config_hash
from analysis.methods import chi2, klfitter, permutations, saja, spanet
from analysis.topology import DEFAULT_PATH, TOPOLOGY, TopologyError

from .conftest import REPO

HAND_WRITTEN_TTBAR = {
    "INPUTS": {"SEQUENTIAL": {"Source": {"mass": "log_normalize", "pt": "log_normalize", "eta": "normalize",
                                         "phi": "normalize", "btag": "none"}}},
    "EVENT": {"t1": ["q1", "q2", "b"], "t2": ["q1", "q2", "b"]},
    "PERMUTATIONS": {"EVENT": [["t1", "t2"]], "t1": [["q1", "q2"]], "t2": [["q1", "q2"]]},
}
"""What SPANet users write by hand for all-hadronic t tbar (the content of the official SPANet
repository's event_files/full_hadronic_ttbar.yaml; SPANet reads TARGETS/<particle>/<daughter> by
name, so the order of the daughters is free)."""

EVENT_INFO_BEFORE = """\
INPUTS:
  SEQUENTIAL:
    Source:
      pt: log_normalize
      eta: normalize
      phi: normalize
      mass: log_normalize
      btag: none
      pt_ht: normalize
      ptd: normalize
  GLOBAL: {}
EVENT:
  t1:
  - b
  - q1
  - q2
  t2:
  - b
  - q1
  - q2
PERMUTATIONS:
  EVENT:
  - - t1
    - t2
  t1:
  - - q1
    - q2
  t2:
  - - q1
    - q2
"""
"""event_info.yaml as the split wrote it from hard-coded tuples before the topology file."""


def test_the_file_parses_into_the_structure_the_modules_used():
    t = topology.load(DEFAULT_PATH)
    assert t is TOPOLOGY and t.name == "ttbar_allhad"
    assert t.slot_names == ("b1", "q1_1", "q2_1", "b2", "q1_2", "q2_2")
    assert t.class_names == ("b1", "W1", "b2", "W2", "other")
    assert t.other_class == 4
    assert t.slot_classes == (0, 1, 1, 2, 3, 3)
    assert t.class_slots == ((0, (0,)), (1, (1, 2)), (2, (3,)), (3, (4, 5)))
    assert [p.name for p in t.particles] == ["t1", "t2"]
    assert [(c.particle, c.charge) for c in t.cascades] == [("t1", 1), ("t2", -1)]
    assert t.particle_slots == t.cascade_slots == ((0, 1, 2), (3, 4, 5))
    assert [c.pair for c in t.cascades] == [(1, 2), (4, 5)]
    assert t.b_slots == (0, 3)
    assert t.parton_masses == (4.7, 0.0, 0.0, 4.7, 0.0, 0.0)
    top, w = t.cascade_resonances
    assert (top.name, top.pdg_id, top.mass, top.width) == ("top", 6, 172.5, 1.5)
    assert (w.name, w.pdg_id, w.mass, w.width) == ("W", 24, 80.4, 2.085)
    assert t.daughters["b"].pdg_ids == (5,) and t.daughters["q1"].pdg_ids == (1, 2, 3, 4, 5)
    assert [s.label for s in t.slots] == ["b", "W+ (1)", "W+ (2)", "bbar", "W- (1)", "W- (2)"]
    assert topology.CATEGORIES == ("matched", "unmatched", "background")
    assert (topology.MATCHED, topology.UNMATCHED, topology.BACKGROUND) == (0, 1, 2)


def test_symmetries_are_spanets():
    """t1 <-> t2 and q1 <-> q2 in each W: two top labellings, 8 labelled assignments per
    distinct one; relabelling the tops exchanges b1 <-> b2 and W1 <-> W2."""
    assert TOPOLOGY.event_groups == (("t1", "t2"),)
    assert [p.symmetric for p in TOPOLOGY.particles] == [(("q1", "q2"),), (("q1", "q2"),)]
    assert TOPOLOGY.symmetric_slots == ((1, 2), (4, 5))
    assert TOPOLOGY.particle_permutations == ((0, 1), (1, 0))
    assert TOPOLOGY.class_permutations == ((0, 1, 2, 3, 4), (2, 3, 0, 1, 4))
    assert TOPOLOGY.multiplicity == 8
    assert TOPOLOGY.event_file(["pt"])["PERMUTATIONS"] == HAND_WRITTEN_TTBAR["PERMUTATIONS"]


def test_the_event_file_is_the_one_spanet_users_write():
    """The same particles with the same daughters and symmetries as SPANet's own t tbar file,
    the same normalisation of the features both have; the split writes it as before."""
    features = list(datasets.KINEMATIC_FEATURES)
    written = yaml.safe_load(yaml.safe_dump(TOPOLOGY.event_file(features), sort_keys=False))
    assert {p: sorted(d) for p, d in written["EVENT"].items()} == \
        {p: sorted(d) for p, d in HAND_WRITTEN_TTBAR["EVENT"].items()}
    assert written["PERMUTATIONS"] == HAND_WRITTEN_TTBAR["PERMUTATIONS"]
    theirs = HAND_WRITTEN_TTBAR["INPUTS"]["SEQUENTIAL"]["Source"]
    ours = written["INPUTS"]["SEQUENTIAL"]["Source"]
    assert {f: ours[f] for f in theirs} == theirs
    assert list(ours) == features and ours["pt_ht"] == "normalize"
    assert yaml.safe_dump(TOPOLOGY.event_file([*features, "ptd"]), sort_keys=False) == EVENT_INFO_BEFORE
    with pytest.raises(TopologyError, match=r"INPUTS.SEQUENTIAL.Source.*\['jet_charge'\]"):
        TOPOLOGY.event_file(["pt", "jet_charge"])


def test_the_stages_read_the_topology():
    """What each module wrote out before, now derived: the dataset targets, the SPANet-format
    reader, the networks' outputs, the fits' masses."""
    assert spanet_h5.target_paths(TOPOLOGY) == ("TARGETS/t1/b", "TARGETS/t1/q1", "TARGETS/t1/q2",
                                      "TARGETS/t2/b", "TARGETS/t2/q1", "TARGETS/t2/q2")
    assert saja.Saja(saja.SajaHyperparameters(features=("pt", "eta"), d_k=2, heads=2, d_ffn=4, blocks=1)).head[-1] \
        .out_features == 5
    assert spanet.head_layout(TOPOLOGY) == (((0, 1, 2), 1), ((3, 4, 5), 1))
    model = spanet.Spanet(spanet.SpanetHyperparameters(features=("pt", "eta", "phi")))
    assert len(model.tops) == 2 and len(model.pairs) == 0 and model.particle_heads() == list(model.tops)
    assert (chi2.Chi2Settings().m_top, chi2.Chi2Settings().m_w) == (172.5, 80.4)
    s = klfitter.LikelihoodSettings()
    assert (s.m_w, s.width_w, s.width_top) == (80.4, 2.085, 1.5)
    assert klfitter.TOPS == ((0, 1, 2), (3, 4, 5)) and klfitter.N_PARAMETERS == 7


@pytest.mark.parametrize("n_jets", [6, 7, 8])
def test_assignment_table_is_the_hand_written_one(n_jets):
    """The rows that are their own canonical form are those the t tbar filter written out kept."""
    rows = [p for p in itertools.permutations(range(n_jets), 6) if p[1] < p[2] and p[4] < p[5] and p[:3] < p[3:]]
    np.testing.assert_array_equal(permutations.table(n_jets), np.array(rows, dtype=np.int64))
    assert permutations.count(n_jets) == len(rows)


def test_canonical_form_agrees_with_the_hand_written_one():
    """The generic canonical form against the t tbar one written out (W quarks sorted, then the
    two tops ordered), on random assignments with ties and unassigned slots."""
    def hand_written(slots):
        tops = [np.concatenate([slots[:, [b]], np.sort(slots[:, [q1, q2]], axis=1)], axis=1)
                for b, q1, q2 in ((0, 1, 2), (3, 4, 5))]
        swap = np.array([tuple(a) > tuple(b) for a, b in zip(*tops, strict=True)])
        first, second = tops
        return np.where(swap[:, None], np.concatenate([second, first], axis=1), np.concatenate([first, second], axis=1))

    rng = np.random.default_rng(3)
    slots = rng.integers(-1, 4, size=(2000, 6))
    np.testing.assert_array_equal(assignments.canonical(slots), hand_written(slots))


def edited_topology(tmp_path, change) -> TopologyError:
    """The TopologyError of the topology file after `change` (on its parsed content)."""
    content = yaml.safe_load(DEFAULT_PATH.read_text())
    change(content)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    with pytest.raises(TopologyError) as err:
        topology.load(path)
    return err.value


@pytest.mark.parametrize(("change", "fragments"), [
    (lambda c: c["RESONANCES"]["W"].update(mass=-80.4), ["RESONANCES.W.mass", "-80.4"]),
    (lambda c: c.update(JETS={}), ["(top level)", "JETS"]),
    (lambda c: c["PARTICLES"].pop("t2"), ["'PARTICLES'", "t2"]),
    (lambda c: c["RESONANCES"]["top"].update(decay=["b", "Z"]), ["RESONANCES.top.decay", "cascades"]),
    (lambda c: c["RESONANCES"]["W"].update(decay=["q1", "q3"]), ["RESONANCES.top.decay", "cascades"]),
    (lambda c: c["PERMUTATIONS"].update(t1=[], t2=[]), ["PERMUTATIONS.t1", "interchangeable"]),
    (lambda c: c["PERMUTATIONS"].update(t2=[]), ["PERMUTATIONS.EVENT", "need the same"]),
    (lambda c: c["EVENT"].update(t1=["b", "q1", "q2", "q3"], t2=["b", "q1", "q2", "q3"]), ["EVENT.t1", "q3"]),
    (lambda c: c["SLOTS"].pop("q2_2"), ["'SLOTS'", "one slot per EVENT daughter"]),
    (lambda c: c["CLASSES"]["W2"].update(slots=["q1_2"]), ["'CLASSES'", "exactly one class"]),
    (lambda c: c["CLASSES"].update(other=c["CLASSES"].pop("other"), W2=c["CLASSES"].pop("W2")),
     ["'CLASSES'", "the last class"]),
    (lambda c: c["CLASSES"]["W1"].update(slots=["q1_1", "q1_2"]) or c["CLASSES"]["W2"].update(slots=["q2_1", "q2_2"]),
     ["CLASSES.W1", "interchangeable"]),
], ids=["negative_mass", "unknown_key", "particle_without_resonance", "unknown_resonance", "unknown_daughter",
        "w_quarks_not_symmetric", "tops_not_alike", "daughter_not_in_decay", "missing_slot", "slot_in_no_class", "other_not_last",
        "class_across_tops"])
def test_bad_topology_files_are_refused_naming_the_key(tmp_path, change, fragments):
    message = str(edited_topology(tmp_path, change))
    assert str(tmp_path / "bad.yaml") in message
    for fragment in fragments:
        assert fragment in message, message


def test_editing_the_topology_reruns_what_depends_on_it(tmp_path):
    """The topology's content is in the config subset of every stage from the skim on; its
    masses and widths only in those of the fits and the evaluation."""
    cfg = configlib.load(REPO / "config" / "test.yaml")
    rules = [("skim", "ttbar", None), ("match", "ttbar", None), ("split", None, None), ("train", None, "saja"),
             ("predict", None, "spanet"), ("baseline", None, None), ("evaluate", None, None),
             ("generate", "ttbar", None)]

    def hashes(change=None) -> dict[str, str]:
        config = cfg
        if change is not None:
            content = yaml.safe_load(DEFAULT_PATH.read_text())
            change(content)
            path = tmp_path / f"edited_{len(list(tmp_path.iterdir()))}.yaml"
            path.write_text(yaml.safe_dump(content, sort_keys=False))
            config = configlib.from_dict({**configlib.read_yaml(REPO / "config" / "test.yaml"), "topology": str(path)})
        return {rule: config_hash(config.rule_config(rule, sample, model)) for rule, sample, model in rules}

    base = hashes()
    assert cfg.stage_config("evaluate")["topology"]["RESONANCES"]["top"]["mass"] == 172.5
    assert "mass" not in cfg.stage_config("split")["topology"]["RESONANCES"]["top"]
    masses = hashes(lambda c: c["RESONANCES"]["W"].update(width=2.1))
    assert {r for r in base if base[r] != masses[r]} == {"baseline", "evaluate"}
    pdg = hashes(lambda c: c["DAUGHTERS"]["q1"].update(pdg_ids=[1, 2, 3, 4]) or
                 c["DAUGHTERS"]["q2"].update(pdg_ids=[1, 2, 3, 4]))
    assert {r for r in base if base[r] != pdg[r]} == {r for r, _, _ in rules} - {"generate"}
