"""The split: deterministic, disjoint, scaled on train only, SPANet layout."""
from __future__ import annotations

import awkward as ak
import h5py
import numpy as np
import pytest
import yaml

from analysis.core.provenance import read_meta
from analysis.datasets import SETS, DatasetError, assign_sets, load, split_fractions
from analysis.topology import CATEGORIES, MATCHED

from .conftest import files_config, split_all

pytestmark = pytest.mark.xdist_group("pipeline")  # one worker builds the shared pipeline fixture


def split(pipeline, directory, cfg=None, matched=None):
    return split_all(cfg or pipeline.cfg, matched or pipeline.matched, directory)


@pytest.fixture(scope="module")
def datasets(pipeline, tmp_path_factory):
    return split(pipeline, tmp_path_factory.mktemp("datasets"))


def test_same_config_gives_identical_files(pipeline, datasets, tmp_path):
    again, _ = split(pipeline, tmp_path / "again")
    for name in SETS:
        assert again[name].read_bytes() == datasets[0][name].read_bytes()


def test_sets_are_disjoint_and_follow_the_fractions(datasets):
    outputs, summary = datasets
    keys = {}
    for name in SETS:
        data = load(outputs[name])
        ttbar = data["sample"] == data["samples"].index("ttbar")
        keys[name] = set(zip(data["file"][ttbar].tolist(), data["event"][ttbar].tolist(), strict=True))
    assert not (keys["train"] & keys["val"] or keys["train"] & keys["test"] or keys["val"] & keys["test"])
    total = sum(len(k) for k in keys.values())
    assert abs(len(keys["train"]) / total - 0.6) < 0.1 and abs(len(keys["val"]) / total - 0.2) < 0.08
    # other samples go whole to the test set, with their category; test_nominal is ttbar's test set alone
    assert set(summary["test_set"]["events"]) == {"ttbar", "qcd"} and "qcd" not in summary["events"]["train"]
    assert summary["test_set"]["events"]["qcd"]["background"] > 0
    assert set(summary["events"]["test_nominal"]) == {"ttbar"}
    assert summary["events"]["test_nominal"]["ttbar"] == summary["test_set"]["events"]["ttbar"]


def test_the_nominal_test_file_is_the_training_samples_part_of_the_test_set(datasets):
    """What SPANet's own evaluation reads (test_nominal.h5) holds exactly the training sample's
    rows of the test file every method is applied to: same events, inputs and targets."""
    outputs, _ = datasets
    nominal, test = load(outputs["test_nominal"]), load(outputs["test"])
    ttbar = test["sample"] == test["samples"].index("ttbar")
    assert (nominal["sample"] == test["samples"].index("ttbar")).all() and nominal["samples"] == test["samples"]
    for key in ("x", "mask", "targets", "event", "file", "category"):
        np.testing.assert_array_equal(nominal[key], test[key][ttbar])


def test_split_depends_on_the_event_not_on_row_order():
    rng = np.random.default_rng(1)
    events = rng.permutation(10_000)
    files = np.where(events % 3 == 0, "a.root", "b.root")
    u = split_fractions(7, "ttbar", files, events)
    order = rng.permutation(len(events))
    np.testing.assert_array_equal(split_fractions(7, "ttbar", files[order], events[order]), u[order])
    sets = assign_sets(u, (0.64, 0.16, 0.20))
    assert np.bincount(sets).tolist() == pytest.approx([6400, 1600, 2000], abs=150)
    assert not np.array_equal(split_fractions(8, "ttbar", files, events), u)  # the seed matters


def test_scaling_is_fitted_on_train_only(datasets):
    outputs, _ = datasets
    raw = {name: load(outputs[name], scaled=False) for name in SETS}
    features = raw["train"]["features"]
    with h5py.File(outputs["val"]) as h5:
        stored = {f: tuple(h5["SCALING"][f][()]) for f in h5["SCALING"]}
    assert "btag" not in stored and {"pt", "eta", "pt_ht", "ptd", "n_photons"} <= set(stored)
    for i, feature in enumerate(features):
        if feature == "btag":
            continue
        train_values = raw["train"]["x"][..., i][raw["train"]["mask"]]
        assert stored[feature] == pytest.approx((train_values.min(), train_values.max()))
    scaled = load(outputs["train"])
    real = scaled["x"][scaled["mask"]]
    assert real.min() == pytest.approx(0.0, abs=1e-6) and real.max() == pytest.approx(1.0, abs=1e-6)
    # the test set is scaled with the training ranges, not refitted
    pt = features.index("pt")
    low, high = stored["pt"]
    test_mask = raw["test"]["mask"]
    np.testing.assert_allclose(load(outputs["test"])["x"][..., pt][test_mask],
                               (raw["test"]["x"][..., pt][test_mask] - low) / (high - low), rtol=1e-5)
    btag = features.index("btag")
    np.testing.assert_array_equal(scaled["x"][..., btag], raw["train"]["x"][..., btag])


def test_spanet_layout_and_targets(datasets):
    outputs, summary = datasets
    with h5py.File(outputs["train"]) as h5:
        assert h5["INPUTS/Source/MASK"].dtype == bool
        n, jets = h5["INPUTS/Source/MASK"].shape
        assert jets == summary["max_jets"]
        for particle in ("t1", "t2"):
            for product in ("b", "q1", "q2"):
                assert h5[f"TARGETS/{particle}/{product}"].dtype == np.int64
                assert h5[f"TARGETS/{particle}/{product}"].shape == (n,)
    info = yaml.safe_load(outputs["train"].with_name("event_info.yaml").read_text())
    assert info["EVENT"] == {"t1": ["b", "q1", "q2"], "t2": ["b", "q1", "q2"]}
    assert list(info["INPUTS"]["SEQUENTIAL"]["Source"]) == summary["features"]
    data = load(outputs["train"])
    matched = data["category"] == MATCHED
    assert matched.any() and (data["targets"][matched] >= 0).all()
    # targets and jet labels say the same thing
    for event in np.flatnonzero(matched)[:50]:
        labels = data["jet_label"][event]
        assert [labels[j] for j in data["targets"][event]] == [0, 1, 1, 2, 3, 3]
    assert (data["targets"][data["category"] == CATEGORIES.index("unmatched")] < 0).any(axis=1).all()
    assert read_meta(outputs["train"])["stage"] == "split"


def test_no_matched_event_is_an_error_naming_the_sample(pipeline, tmp_path):
    cfg = files_config(tmp_path, {"qcd": pipeline.files["qcd"]})
    with pytest.raises(DatasetError, match=r"sample 'qcd'.*no event has a t tbar"):
        split(pipeline, tmp_path / "d", cfg=cfg, matched={"qcd": pipeline.matched["qcd"]})
    assert not list((tmp_path / "d").glob("*.h5"))


def test_max_jets_truncation_demotes_lost_matches(pipeline, tmp_path):
    cfg = files_config(tmp_path, {"ttbar": pipeline.files["ttbar"], "qcd": pipeline.files["qcd"]},
                       datasets={"training_sample": "ttbar", "max_jets": 6,
                                 "fractions": {"train": 0.6, "val": 0.2, "test": 0.2}})
    outputs, summary = split(pipeline, tmp_path / "d", cfg=cfg)
    data = load(outputs["train"])
    assert data["x"].shape[1] == 6
    matched_full = ak.sum(ak.from_parquet(pipeline.matched["ttbar"]).category == MATCHED)
    kept = sum(s.get("ttbar", {}).get("matched", 0) for s in summary["events"].values())
    assert kept + summary["matched_lost_to_max_jets"] == matched_full
    assert summary["matched_lost_to_max_jets"] > 0
