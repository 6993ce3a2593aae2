"""Dijet jets for the q/g study: selection, truth flavour, constituents and bad input."""
from __future__ import annotations

import dataclasses

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml

from analysis import config as configlib
from analysis.events import delphes
from analysis.qg import samples
from analysis.qg.training import flat_weights
from analysis.stages.qg import run_qg_samples

from .conftest import REPO


def qg_config(mc_files, data_files=None, generated_events: int = 1000, **selection) -> configlib.Config:
    """The test config's q/g study on `files` samples (unit weights: at most `generated_events`
    events per sample, the normalisation refuses more)."""
    raw = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    source = {"source": "files", "cross_section_pb": 1.0, "generated_events": generated_events}
    raw["qg"]["samples"] = {"dijet": {**source, "files": [str(f) for f in mc_files]},
                            "dijet_vincia": {**source, "files": [str(f) for f in data_files or mc_files]}}
    raw["qg"]["selection"] = {"jet_pt_min": 200, **selection}
    return configlib.from_dict(raw)


def test_dijet_selection_edges(test_config):
    cuts = dataclasses.replace(test_config.qg, jet_pt_min=100.0, jet_eta_max=2.0, balance_max=1.5)
    pt = ak.Array([[200.0, 140.0], [150.0, 101.0, 200.0], [120.0], [200.0, 99.0], [200.0, 130.0], [200.0, 150.0]])
    eta = ak.Array([[0.1, -1.9], [0.0, 0.5, 1.0], [0.0], [0.0, 0.0], [0.0, 0.0], [2.05, 0.0]])
    events, leading = samples.select_dijets(pt, eta, cuts)
    # event 1: leading jets are 200 and 150 (not in file order); 3: 99 GeV; 4: balance 200/130 > 1.5; 5: eta
    assert events.tolist() == [0, 1]
    assert leading.tolist() == [[0, 1], [2, 0]]


def test_truth_flavour_is_the_hardest_outgoing_parton_within_delta_r():
    particles = ak.Array([
        [{"PID": 21, "Status": 23, "PT": 300.0, "Eta": 0.0, "Phi": 3.1},
         {"PID": -2, "Status": 23, "PT": 50.0, "Eta": 0.1, "Phi": -3.1},     # same jet across phi = +-pi, softer
         {"PID": 1, "Status": 21, "PT": 900.0, "Eta": 0.0, "Phi": 3.1},      # incoming: ignored
         {"PID": 3, "Status": 23, "PT": 280.0, "Eta": 1.0, "Phi": 0.0}],
        [{"PID": 5, "Status": 23, "PT": 100.0, "Eta": 0.0, "Phi": 0.0}],
    ])
    eta = np.array([[0.05, 1.0], [0.0, 2.0]])
    phi = np.array([[-3.13, 0.35], [0.3, 0.0]])
    flavour = samples.truth_flavour(eta, phi, particles, 0.4)
    assert flavour.tolist() == [[21, 3], [5, 0]]  # 0.35 < 0.4 matches the s quark; no parton near jet (1, 1)


@pytest.fixture(scope="module")
def dijets(qcd_file):
    cfg = qg_config([qcd_file])
    return cfg, samples.build(cfg, "dijet", [qcd_file])


def test_jets_constituents_and_shapes(dijets, qcd_file):
    cfg, jets = dijets
    n = len(jets["pt"])
    assert n > 100 and n % 2 == 0
    assert jets["forward"].reshape(-1, 2).sum(axis=1).tolist() == [1] * (n // 2)  # one forward jet per event
    assert (np.abs(jets["eta"][jets["forward"]]) >= np.abs(jets["eta"][~jets["forward"]])).all()
    assert (jets["pt"] > 200).all() and (np.abs(jets["eta"]) < 2.1).all()
    raw, mask = jets["constituents"], jets["mask"]
    assert raw.shape == (n, cfg.qg.max_constituents, 6) and not raw[~mask].any()
    pt_rel = raw[..., 0]
    assert (np.diff(np.where(mask, pt_rel, -1), axis=1) <= 0).all()  # hardest first
    # every constituent's pT sums back to the jet's (the jet is the sum of its constituents)
    untruncated = jets["shape_multiplicity"] <= cfg.qg.max_constituents
    np.testing.assert_allclose(pt_rel[untruncated].sum(axis=1), 1.0, atol=0.05)
    assert mask.sum(axis=1).tolist() == np.minimum(jets["shape_multiplicity"], cfg.qg.max_constituents).tolist()
    # the jet shapes agree with those the generator wrote (same constituents, same definition)
    stored = delphes.read(qcd_file, {"Jet": ("PT", "PTD", "AxisMajor")})["Jet"][jets["event"]]
    same = ak.argmin(np.abs(stored.PT - jets["pt"]), axis=1, keepdims=True)
    for ours, theirs in (("shape_ptd", "PTD"), ("shape_axis_major", "AxisMajor")):
        np.testing.assert_allclose(jets[ours], ak.to_numpy(ak.flatten(stored[theirs][same])), rtol=2e-3, atol=1e-5)


def test_quark_and_gluon_jets_differ_as_expected(dijets):
    _, jets = dijets
    quark, gluon = samples.is_quark(jets["flavour"]), samples.is_gluon(jets["flavour"])
    assert quark.sum() > 30 and gluon.sum() > 30
    assert (jets["flavour"] > 0).mean() > 0.8  # the two leading jets nearly always carry a hard parton
    assert (quark | gluon).all()  # every jet with truth is in one class
    assert jets["shape_multiplicity"][gluon].mean() > 1.2 * jets["shape_multiplicity"][quark].mean()
    assert jets["shape_ptd"][quark].mean() > jets["shape_ptd"][gluon].mean()


def test_delta_r_association_matches_the_jet_index(qcd_file, test_config):
    """Delphes files have no JetIndex: the nearest-jet rule gives nearly the same constituents."""
    spec, _ = samples.read_spec(qcd_file)
    arrays = delphes.read(qcd_file, spec)
    study = dataclasses.replace(test_config.qg, jet_pt_min=200.0, jet_eta_max=2.1, balance_max=1.5)
    events, leading = samples.select_dijets(arrays["Jet"].PT, arrays["Jet"].Eta, study)
    candidates = arrays["ParticleFlowCandidate"][events]
    eta, phi = (samples._take(arrays["Jet"][f][events], leading) for f in ("Eta", "Phi"))
    by_index = samples.constituent_jet(candidates, leading, eta, phi, 0.4)
    by_distance = samples.constituent_jet(candidates[[f for f in candidates.fields if f != "JetIndex"]],
                                          leading, eta, phi, 0.4)
    assigned = by_index >= 0
    agree_pt = ak.sum(candidates.PT[assigned & (by_index == by_distance)]) / ak.sum(candidates.PT[assigned])
    assert agree_pt > 0.99


def delphes_like_copy(source, path):
    """The dijet file as real Delphes writes it: no Particle truth, no JetIndex on the candidates."""
    arrays = delphes.read(source, {"Event": ("Number", "Weight"), "Jet": ("PT", "Eta", "Phi", "Mass"),
                                   "ParticleFlowCandidate": samples.CANDIDATE_FIELDS})
    with uproot.recreate(path) as f:
        f.mktree("Delphes", {k: v.type.content for k, v in arrays.items()},
                 counter_name=lambda c: f"{c}_size", field_name=lambda o, i: f"{o}.{i}")
        f["Delphes"].extend(arrays)
    return path


def test_files_without_truth_or_constituents(tmp_path, qcd_file, ttbar_file, dijets):
    data_file = delphes_like_copy(qcd_file, tmp_path / "data.root")
    cfg = qg_config([qcd_file], [data_file])
    data = samples.build(cfg, "dijet_vincia", [data_file])  # data: flavour unknown, constituents by Delta R
    assert (data["flavour"] == samples.UNKNOWN).all()
    _, mc = dijets
    np.testing.assert_array_equal(data["pt"], mc["pt"])
    assert np.abs(data["shape_multiplicity"] - mc["shape_multiplicity"]).mean() < 0.5
    with pytest.raises(samples.QGSampleError, match="no Particle collection"):
        samples.build(qg_config([data_file], [qcd_file]), "dijet", [data_file])
    with pytest.raises(delphes.DelphesInputError, match="ParticleFlowCandidate"):
        samples.build(qg_config([ttbar_file]), "dijet", [ttbar_file])  # written without constituents
    with pytest.raises(samples.QGSampleError, match="no event passes the dijet selection"):
        samples.build(qg_config([qcd_file], jet_pt_min=5000), "dijet", [qcd_file])


def test_flat_weights_make_each_class_flat_and_balanced():
    rng = np.random.default_rng(1)
    pt = 100 * np.exp(rng.exponential(0.7, 20_000))
    abs_eta = np.abs(rng.normal(0, 1.0, 20_000)).clip(0, 2.09)
    quark = rng.random(20_000) < 0.3 + 0.2 * (pt > 200)
    weights = flat_weights(pt, abs_eta, quark, (5, 3), 2.1)
    assert weights[quark].sum() == pytest.approx(10_000) and weights[~quark].sum() == pytest.approx(10_000)
    pt_edges = np.geomspace(pt.min(), pt.max() * (1 + 1e-9), 6)
    for cls in (quark, ~quark):
        hist = np.histogram2d(pt[cls], abs_eta[cls], [pt_edges, np.linspace(0, 2.1, 4)], weights=weights[cls])[0]
        occupied = hist[hist > 0]
        np.testing.assert_allclose(occupied, occupied[0], rtol=1e-9)


def test_the_stage_streams_the_same_jets_to_its_file(tmp_path, dijets, qcd_file):
    cfg, jets = dijets
    output = tmp_path / "dijet.h5"
    census = run_qg_samples(cfg, {"files": [qcd_file]}, {"jets": output}, {"sample": "dijet"})
    written = samples.load(output)
    assert set(written) == set(jets) and census["jets"] == len(jets["pt"])
    for name, values in jets.items():
        np.testing.assert_array_equal(written[name], values)
    assert samples.sample_name(output) == "dijet"
    empty = tmp_path / "empty.h5"
    with pytest.raises(samples.QGSampleError, match="no event passes"):
        run_qg_samples(qg_config([qcd_file], jet_pt_min=5000), {"files": [qcd_file]}, {"jets": empty},
                       {"sample": "dijet"})
    assert not empty.exists() and not list(tmp_path.glob(".empty.h5*"))
