"""SPANet-format HDF5 datasets as a sample source: reading, the split's tables, config checks."""
from __future__ import annotations

import awkward as ak
import h5py
import numpy as np
import pytest
import yaml

from analysis import config as configlib
from analysis import spanet_h5
from analysis.config import SPANET_H5_FEATURES, ConfigError
from analysis.datasets import KINEMATIC_FEATURES, SETS, build_table, load, spanet_table
from analysis.spanet_h5 import SpanetFormatError
from analysis.topology import MATCHED, TOPOLOGY, UNMATCHED

from .conftest import REPO, split_all
from .spanet_builders import from_matched, shuffled, write_spanet

pytestmark = pytest.mark.xdist_group("pipeline")  # the Delphes comparison shares the pipeline fixture
B1, W1, B2, W2, OTHER = range(len(TOPOLOGY.classes))


def hand_built(width: int = 8) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Four events with known answers (pT in GeV, eta = pT / 100 tags each jet):
    0: seven pT-ordered jets, all six targets set;
    1: six jets in scrambled order, all targets set (after sorting: as event 0 without jet 6);
    2: as event 0 with t2/q2 unmatched;
    3: as event 0 with a slightly negative mass on jet 6 (no target) and t1/q2 on jet 6."""
    ordered = [200.0, 150.0, 120.0, 90.0, 70.0, 50.0, 40.0]
    scrambled = [50.0, 200.0, 90.0, 150.0, 120.0, 70.0]
    rows = [ordered, scrambled, ordered, ordered]
    pt = np.zeros((4, width), np.float32)
    mask = np.zeros((4, width), bool)
    for i, row in enumerate(rows):
        pt[i, : len(row)] = row
        mask[i, : len(row)] = True
    inputs = {"MASK": mask, "pt": pt, "eta": np.where(mask, pt / 100, 0).astype(np.float32),
              "phi": np.where(mask, 0.5, 0).astype(np.float32), "mass": np.where(mask, 10.0, 0).astype(np.float32),
              "btag": np.where(mask & (pt >= 150), 1, 0).astype(np.float32)}
    inputs["mass"][3, 6] = -0.25
    inputs["eta"][0, 7] = inputs["mass"][1, 7] = np.nan  # padding may hold anything
    targets = np.array([[0, 2, 4, 1, 3, 5],
                        [1, 4, 5, 3, 2, 0],   # the scrambled positions of 200, 120, 70 | 150, 90, 50
                        [0, 2, 4, 1, 3, -1],
                        [0, 2, 6, 1, 3, 5]])
    return inputs, targets


@pytest.fixture
def two_files(tmp_path):
    """The hand-built events in a/x.h5 (8 jet columns) and the first two again in b/y.h5 (7)."""
    inputs, targets = hand_built()
    first = write_spanet(tmp_path / "a" / "x.h5", inputs, targets)
    second = write_spanet(tmp_path / "b" / "y.h5", {k: v[:2, :7] for k, v in inputs.items()}, targets[:2])
    return first, second


def test_table_of_hand_built_events_has_the_known_answers(two_files):
    events = spanet_h5.read(two_files, TOPOLOGY)
    table = spanet_table(events, sample_index=3, n_jets=8, weight_pb=0.5, topology=TOPOLOGY)
    expected_targets = [[0, 2, 4, 1, 3, 5], [0, 2, 4, 1, 3, 5], [0, 2, 4, 1, 3, -1], [0, 2, 6, 1, 3, 5],
                        [0, 2, 4, 1, 3, 5], [0, 2, 4, 1, 3, 5]]
    np.testing.assert_array_equal(table.targets, expected_targets)
    assert table.extra["category"].tolist() == [MATCHED, MATCHED, UNMATCHED, MATCHED, MATCHED, MATCHED]
    # the scrambled event's jets are sorted, every input moving with its jet
    np.testing.assert_array_equal(table.inputs["pt"][1], [200, 150, 120, 90, 70, 50, 0, 0])
    np.testing.assert_allclose(table.inputs["eta"][1], [2.0, 1.5, 1.2, 0.9, 0.7, 0.5, 0, 0])
    np.testing.assert_array_equal(table.inputs["btag"][1], [1, 1, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(table.inputs["MASK"][1], [True] * 6 + [False] * 2)
    assert table.extra["jet_label"][0].tolist() == [B1, B2, W1, W2, W1, W2, OTHER, -1]
    assert table.extra["jet_label"][2].tolist() == [B1, B2, W1, W2, W1, OTHER, OTHER, -1]
    assert table.extra["jet_label"][3].tolist() == [B1, B2, W1, W2, OTHER, W2, W1, -1]
    # padding zeroed, negative mass clamped; HT over the real jets; pT / HT
    assert all((table.inputs[name][~table.inputs["MASK"]] == 0).all() for name in KINEMATIC_FEATURES)
    assert table.inputs["mass"][3, 6] == 0.0 and table.inputs["mass"][3, 5] == 10.0
    assert table.extra["ht"][0] == pytest.approx(720.0) and table.extra["ht"][1] == pytest.approx(680.0)
    np.testing.assert_allclose(table.inputs["pt_ht"][0, :2], [200 / 720, 150 / 720], rtol=1e-6)
    assert table.extra["n_jets"].tolist() == [7, 6, 7, 7, 7, 6]
    # identity: files relative to their common folder, event = row in the file; weights; no partons
    assert table.extra["file"].astype(str).tolist() == ["a/x.h5"] * 4 + ["b/y.h5"] * 2
    assert table.extra["event"].tolist() == [0, 1, 2, 3, 0, 1]
    assert (table.extra["sample"] == 3).all() and (table.extra["weight"] == 1).all()
    assert (table.extra["weight_pb"] == 0.5).all()
    assert np.isnan(table.extra["parton_pt"]).all() and (table.extra["parton_pid"] == 0).all()
    assert set(table.inputs) == {*KINEMATIC_FEATURES, "MASK"} and set(KINEMATIC_FEATURES) == set(SPANET_H5_FEATURES)
    assert events.report[str(two_files[0])] == {"events": 4, "reordered_events": 1, "negative_masses_set_to_zero": 1}


def test_jets_beyond_max_jets_demote_their_event(two_files):
    table = spanet_table(spanet_h5.read(two_files[:1], TOPOLOGY), sample_index=0, n_jets=6, weight_pb=1.0, topology=TOPOLOGY)
    assert table.inputs["pt"].shape == (4, 6)
    assert table.targets[3].tolist() == [0, 2, -1, 1, 3, 5]
    assert table.extra["category"][3] == UNMATCHED and table.extra["truncated_matched"].tolist() == [0, 0, 0, 1]
    assert table.extra["n_jets"][3] == 7 and table.extra["ht"][3] == pytest.approx(720.0)


def test_table_equals_the_delphes_one_for_the_same_events(pipeline):
    """Our matched ttbar events written in SPANet's layout, jets shuffled: the table read back is
    the one the split builds from the matched parquet (but for what the layout lacks)."""
    events = ak.from_parquet(pipeline.matched["ttbar"])
    width = int(ak.max(ak.num(events.jets)))
    inputs, targets = shuffled(*from_matched(events, width), np.random.default_rng(5))
    path = write_spanet(pipeline.dir / "spanet" / "ttbar.h5", inputs, targets)
    h5_table = spanet_table(spanet_h5.read([path], TOPOLOGY), 0, 12, 1.0, TOPOLOGY)
    delphes = build_table(events, 0, 12, shapes=False)
    for name in ("pt", "eta", "phi", "mass", "MASK"):
        np.testing.assert_array_equal(h5_table.inputs[name], delphes.inputs[name], err_msg=name)
    np.testing.assert_array_equal(h5_table.inputs["btag"], delphes.inputs["btag"] > 0)
    np.testing.assert_allclose(h5_table.inputs["pt_ht"], delphes.inputs["pt_ht"], rtol=1e-6)
    np.testing.assert_array_equal(h5_table.targets, delphes.targets)
    for name in ("category", "truncated_matched", "n_jets", "jet_label"):
        np.testing.assert_array_equal(h5_table.extra[name], delphes.extra[name], err_msg=name)
    np.testing.assert_allclose(h5_table.extra["ht"], delphes.extra["ht"], rtol=1e-6)
    assert (h5_table.extra["category"] == MATCHED).sum() > 20


@pytest.mark.parametrize(("change", "message"), [
    (lambda i, t: (i, t, ("TARGETS/t2/q1",)), r"no dataset\(s\) \['TARGETS/t2/q1'\]"),
    (lambda i, t: (i, t, ("INPUTS/Source/btag",)), r"INPUTS/Source/btag"),
    (lambda i, t: (i, _with(t, (0, 5), 7), ()), r"TARGETS/t2/q2 is 7 in event 0"),
    (lambda i, t: (i, _with(t, (1, 2), 1), ()), r"event 1 names jet\(s\) twice"),
    (lambda i, t: ({**i, "btag": _with(i["btag"], (0, 0), 0.8)}, t, ()), r"btag holds values other than 0 and 1"),
    (lambda i, t: ({**i, "eta": _with(i["eta"], (2, 3), np.nan)}, t, ()), r"eta is nan for jet 3 of event 2"),
])
def test_bad_files_are_refused_naming_the_file_and_dataset(tmp_path, change, message):
    inputs, targets, drop = change(*hand_built())
    path = write_spanet(tmp_path / "bad.h5", inputs, targets, drop)
    with pytest.raises(SpanetFormatError, match=message) as error:
        spanet_h5.read([path], TOPOLOGY)
    assert str(path) in str(error.value)


def _with(array: np.ndarray, index: tuple, value) -> np.ndarray:
    out = array.copy()
    out[index] = value
    return out


def test_a_file_that_is_not_hdf5_is_refused(tmp_path):
    path = tmp_path / "x.h5"
    path.write_text("not hdf5")
    with pytest.raises(SpanetFormatError, match=r"x.h5: not readable as HDF5"):
        spanet_h5.read([path], TOPOLOGY)


def spanet_raw(samples: dict, training: str, **sections) -> dict:
    """The test config with these samples, networks without jet-shape inputs and the transfer
    functions from `ttbar` when it is a sample (else no KLFitter-style methods)."""
    raw = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    raw["tag"] = "unit"
    raw["samples"], raw["generators"] = samples, {}
    raw["datasets"]["training_sample"] = training
    del raw["models"]["saja_shape"], raw["qg"]
    if "ttbar" in samples:
        raw["baselines"]["klfitter"]["transfer_sample"] = "ttbar"
    else:
        raw["baselines"]["klfitter"]["n_jets"] = []
    raw.update(sections)
    return raw


def load_config(raw: dict, tmp_path) -> configlib.Config:
    return configlib.from_dict(raw, where=str(tmp_path / "config.yaml"))


@pytest.fixture
def spanet_files(pipeline):
    """The pipeline's matched ttbar events as three SPANet files (jets of the second shuffled)."""
    events = ak.from_parquet(pipeline.matched["ttbar"])
    inputs, targets = from_matched(events, int(ak.max(ak.num(events.jets))))
    parts = np.array_split(np.arange(len(targets)), 3)
    folder = pipeline.dir / "spanet_parts"
    paths = []
    for k, rows in enumerate(parts):
        part = ({name: v[rows] for name, v in inputs.items()}, targets[rows])
        if k == 1:
            part = shuffled(*part, np.random.default_rng(9))
        paths.append(write_spanet(folder / f"part{k}.h5", *part))
    return paths


def test_split_of_a_spanet_training_sample_by_hash(pipeline, spanet_files, tmp_path):
    raw = spanet_raw({"tt": {"source": "spanet_h5", "files": [str(p) for p in spanet_files],
                             "cross_section_pb": 100.0},
                      "qcd": {"source": "files", "files": [str(pipeline.files["qcd"])], "cross_section_pb": 1.0,
                              "generated_events": 1000}}, "tt")
    cfg = load_config(raw, tmp_path)
    assert cfg.matched_samples() == ["qcd"] and list(cfg.spanet_samples()) == ["tt"]
    outputs, summary = split_all(cfg, {"qcd": pipeline.matched["qcd"]}, tmp_path)
    assert summary["features"] == list(KINEMATIC_FEATURES) and not summary["jet_shapes"]
    assert summary["spanet_h5"]["tt"][str(spanet_files[1])]["reordered_events"] > 0
    data = {name: load(outputs[name], scaled=False) for name in SETS}
    keys = {name: set(zip(d["file"][d["sample"] == 0].tolist(), d["event"][d["sample"] == 0].tolist(),
                          strict=True)) for name, d in data.items()}
    total = sum(len(k) for k in keys.values())
    assert total == sum(len(h5py.File(p)["TARGETS/t1/b"]) for p in spanet_files)
    assert not (keys["train"] & keys["val"] or keys["train"] & keys["test"] or keys["val"] & keys["test"])
    assert abs(len(keys["train"]) / total - 0.6) < 0.1
    assert {f for f, _ in keys["train"]} == {b"part0.h5", b"part1.h5", b"part2.h5"}
    assert set(summary["test_set"]["events"]) == {"tt", "qcd"} and "qcd" not in summary["events"]["train"]
    assert summary["test_set"]["events"]["qcd"]["background"] > 0
    # every event of the 100 pb sample carries its share; the Delphes sample its cutflow weights
    tt = data["test"]["sample"] == 0
    np.testing.assert_allclose(data["test"]["weight_pb"][tt], 100.0 / total)
    matched = data["train"]["category"] == MATCHED
    assert matched.sum() > 10 and (data["train"]["targets"][matched] >= 0).all()


def test_roles_assign_whole_files_and_hash_val_out_of_train(pipeline, spanet_files, tmp_path):
    roles = {"train": [str(spanet_files[0]), str(spanet_files[1])], "test": [str(spanet_files[2])]}
    cfg = load_config(spanet_raw({"tt": {"source": "spanet_h5", "roles": roles}}, "tt"), tmp_path)
    outputs, summary = split_all(cfg, {}, tmp_path)
    files = {name: set(load(outputs[name], scaled=False)["file"].tolist()) for name in SETS}
    assert files["train"] == files["val"] == {b"part0.h5", b"part1.h5"} and files["test"] == {b"part2.h5"}
    counts = {name: sum(summary["events"][name]["tt"].values()) for name in ("train", "val")}
    assert counts["val"] / (counts["train"] + counts["val"]) == pytest.approx(0.25, abs=0.1)  # 0.2 / (0.6 + 0.2)
    assert (load(outputs["test"])["weight_pb"] == 1.0).all()  # no cross-section: unit weights


def test_roles_with_a_val_role_keep_files_whole(pipeline, spanet_files, tmp_path):
    roles = {"train": [str(spanet_files[0])], "val": [str(spanet_files[1])], "test": [str(spanet_files[2])]}
    cfg = load_config(spanet_raw({"tt": {"source": "spanet_h5", "roles": roles}}, "tt"), tmp_path)
    outputs, _ = split_all(cfg, {}, tmp_path)
    files = {name: set(load(outputs[name], scaled=False)["file"].tolist()) for name in SETS}
    assert files == {"train": {b"part0.h5"}, "val": {b"part1.h5"}, "test": {b"part2.h5"}}


def test_a_spanet_training_sample_without_matched_events_stops_the_split(tmp_path):
    inputs, targets = hand_built()
    path = write_spanet(tmp_path / "partial.h5", inputs, np.where(np.arange(6) == 5, -1, targets))
    cfg = load_config(spanet_raw({"tt": {"source": "spanet_h5", "files": [str(path)]}}, "tt"), tmp_path)
    with pytest.raises(ValueError, match=r"sample 'tt'.*no event has all 6 targets set"):
        split_all(cfg, {}, tmp_path)


@pytest.fixture
def ttbar_spec(ttbar_file):
    return {"source": "files", "files": [str(ttbar_file)], "cross_section_pb": 1.0, "generated_events": 1000}


@pytest.mark.parametrize(("edit", "message"), [
    (lambda r, f: r["samples"]["tt"].update(roles={"train": [f], "test": [f]}),
     r"'samples.tt': give exactly one of 'files'"),
    (lambda r, f: r["samples"]["tt"].pop("files"), r"'samples.tt': give exactly one of 'files'"),
    (lambda r, f: r["samples"]["tt"].update(files=[f + ".missing"]), r"'samples.tt.files': no file matches"),
    (lambda r, f: r["samples"].update(tt={"source": "spanet_h5", "roles": {"train": [f], "test": ["nothing*.h5"]}}),
     r"'samples.tt.roles.test': no file matches 'nothing\*.h5'"),
    (lambda r, f: r["samples"].update(tt={"source": "spanet_h5", "roles": {"train": [f], "test": [f]}}),
     r"'samples.tt.roles': .*x.h5 is in both 'train' and 'test'"),
    (lambda r, f: r["datasets"].update(training_sample="ttbar"), r"'samples.tt.roles': roles are for the training"),
    (lambda r, f: r["models"]["saja"].update(features=["pt", "eta", "ptd"]),
     r"'models.saja.features': \['ptd'\] are not in SPANet-format datasets \(\['tt'\]\)"),
    (lambda r, f: r["baselines"]["klfitter"].pop("transfer_sample"),
     r"'baselines.klfitter.transfer_sample': the training sample 'tt' is a SPANet-format.*n_jets: \[\]"),
    (lambda r, f: r["baselines"]["klfitter"].update(transfer_sample="tt"),
     r"'baselines.klfitter.transfer_sample': 'tt' is a SPANet-format dataset without parton energies"),
    (lambda r, f: r["baselines"]["klfitter"].update(transfer_sample="nope"),
     r"'baselines.klfitter.transfer_sample': 'nope' is not a sample; allowed values: \['ttbar'\]"),
])
def test_config_errors_name_the_key(two_files, ttbar_spec, tmp_path, edit, message):
    f = str(two_files[0])
    raw = spanet_raw({"tt": {"source": "spanet_h5", "files": [f]}, "ttbar": ttbar_spec}, "tt")
    if "roles are for the training" in message:
        raw["samples"]["tt"] = {"source": "spanet_h5", "roles": {"train": [f], "test": [str(two_files[1])]}}
    edit(raw, f)
    with pytest.raises(ConfigError, match=message):
        load_config(raw, tmp_path)


def test_config_without_klfitter_or_with_a_transfer_sample_loads(two_files, ttbar_spec, tmp_path):
    f = str(two_files[0])
    raw = spanet_raw({"tt": {"source": "spanet_h5", "files": [f]}}, "tt")
    cfg = load_config(raw, tmp_path)
    assert cfg.baselines.kinds["klfitter"].methods() == {} and cfg.methods() == ["saja", "spanet", "chi2_6", "chi2_7"]
    raw = spanet_raw({"tt": {"source": "spanet_h5", "files": [f], "label": "SPANet file"}}, "tt",
                     generators={"ttbar": ttbar_spec})
    raw["baselines"]["klfitter"]["transfer_sample"] = "ttbar"
    cfg = load_config(raw, tmp_path)
    assert cfg.transfer_sample() == "ttbar" and cfg.samples["tt"].label == "SPANet file"
    assert cfg.samples["tt"].cross_section_pb is None and cfg.matched_samples() == ["ttbar"]


def test_spanet_samples_cannot_be_qg_samples(two_files, tmp_path):
    raw = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    raw["qg"]["samples"]["dijet_vincia"] = {"source": "spanet_h5", "files": [str(two_files[0])]}
    with pytest.raises(ConfigError, match=r"'qg.samples': \['dijet_vincia'\] are SPANet-format datasets"):
        load_config(raw, tmp_path)


def test_spanet_sample_needs_no_skim_and_reaches_every_method(two_files, ttbar_spec, tmp_path):
    """The DAG's targets: no cutflow or matching tables for the dataset, its assignments for every
    method, the transfer functions from the Delphes sample's events in the test set."""
    from analysis import paths

    raw = spanet_raw({"tt": {"source": "spanet_h5", "files": [str(p) for p in two_files]}}, "tt",
                     generators={"ttbar": ttbar_spec})
    raw["baselines"]["klfitter"]["transfer_sample"] = "ttbar"
    cfg = load_config(raw, tmp_path)
    targets = paths.all_targets(cfg)
    assert "results/unit/skim/tt.cutflow.json" not in targets and "results/unit/skim/ttbar.cutflow.json" in targets
    for method in cfg.methods():
        assert paths.assignment_file("unit", method, "tt") in targets
    assert paths.transfer_dataset(cfg) == "results/unit/datasets/test.h5"
    raw["baselines"]["klfitter"]["n_jets"] = []
    assert "results/unit/baselines/transfer_functions.png" not in paths.all_targets(load_config(raw, tmp_path))


def test_matching_figures_without_any_matching_table_say_why(tmp_path):
    """A config of SPANet-format datasets only has no matching tables: Figs. 2-4 are still drawn,
    saying which samples have no parton-level matching."""
    from analysis.plotting.figures import FIGURES

    for name in (name for name, figure in FIGURES.items() if figure.reads == "matching_tables"):
        FIGURES[name].function()({}, tmp_path / f"{name}.png", topology=TOPOLOGY, no_matching=["tt"])
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
