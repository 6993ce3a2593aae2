"""Methods run outside the workflow (config key `imported`): SPANet prediction files read into the
common assignment format, aligned with the test set or refused, and scored like every method."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from analysis import assignments
from analysis.config import ConfigError
from analysis.methods.imported import PredictionFileError, read_spanet_predictions
from analysis.stages.imported import run_import_predictions
from analysis.topology import TOPOLOGY

from .conftest import files_config


def write_predictions(path, pt, slots, probability, groups=("INPUTS", "TARGETS")):
    """A file in the layout `python -m spanet.predict` writes (spanet 2.1.1): the test file's
    inputs copied, each particle's daughters' jet indices and its assignment probability."""
    inputs, targets = groups
    with h5py.File(path, "w") as file:
        file[f"{inputs}/Source/pt"] = pt
        for i, slot in enumerate(TOPOLOGY.slots):
            file[f"{targets}/{slot.particle}/{slot.daughter}"] = slots[:, i]
        for particle in TOPOLOGY.particles:
            file[f"{targets}/{particle.name}/assignment_probability"] = probability
    return path


@pytest.mark.parametrize("groups", [("INPUTS", "TARGETS"), ("SpecialKey.Inputs", "SpecialKey.Targets")])
def test_reader_gives_slots_and_score_and_marks_a_jet_used_twice_invalid(tmp_path, groups):
    """Both group spellings: SPANet's documented one and what spanet 2.1.1 writes under Python 3.11."""
    pt = np.tile(np.arange(100.0, 20.0, -10.0), (3, 1)).astype(np.float32)
    mask = np.ones(pt.shape, bool)
    slots = np.array([[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0], [0, 1, 2, 0, 4, 5]])
    path = write_predictions(tmp_path / "p.h5", pt, slots, np.array([0.5, 0.25, 0.9]), groups)
    read, score = read_spanet_predictions(path, pt, mask)
    assert read[:2].tolist() == slots[:2].tolist() and read[2].tolist() == [-1] * 6
    assert score[:2] == pytest.approx([-2 * np.log(0.5), -2 * np.log(0.25)]) and np.isinf(score[2])


def test_predictions_made_on_another_test_set_are_refused(tmp_path):
    pt = np.full((4, 8), 50.0, np.float32)
    slots = np.tile(np.arange(6), (4, 1))
    path = write_predictions(tmp_path / "p.h5", pt, slots, np.full(4, 0.5))
    with pytest.raises(PredictionFileError, match="p.h5: its events are not those of this run's test set"):
        read_spanet_predictions(path, pt * 1.1, np.ones(pt.shape, bool))
    with pytest.raises(PredictionFileError, match="4 events against 3"):
        read_spanet_predictions(path, pt[:3], np.ones((3, 8), bool))
    with h5py.File(tmp_path / "other.h5", "w") as file:
        file["INPUTS/Source/pt"] = pt
    with pytest.raises(PredictionFileError, match="not a SPANet prediction file"):
        read_spanet_predictions(tmp_path / "other.h5", pt, np.ones(pt.shape, bool))


def test_imported_truth_is_right_on_every_matched_event_in_either_top_order(pipeline, sets, tmp_path):
    """Closure: a prediction file holding the truth (the tops swapped in half of the events, the
    W jets swapped in the other half) gives every fully matched test event right, through the
    stage that the rule import_predictions runs; its assignment files hold every sample's events."""
    with h5py.File(sets["test"], "r") as test:
        pt = test["INPUTS/Source/pt"][:]
        truth = np.stack([test[f"TARGETS/{s.particle}/{s.daughter}"][:] for s in TOPOLOGY.slots], axis=1)
    complete = (truth >= 0).all(axis=1)
    predicted = np.where(complete[:, None], truth, np.arange(6)[None, :])
    predicted[::2] = predicted[::2][:, [3, 4, 5, 0, 1, 2]]
    predicted[1::2] = predicted[1::2][:, [0, 2, 1, 3, 5, 4]]
    path = write_predictions(tmp_path / "predictions.h5", pt, predicted, np.full(len(pt), 0.8))
    cfg = files_config(tmp_path, pipeline.files, imported={
        "official": {"format": "spanet_predictions", "predictions": str(path), "label": "SPANet (official)"}})
    assert cfg.methods()[-1] == "official" and cfg.method_label("official") == "SPANet (official)"
    assert cfg.method_kind("official") == "spanet_predictions"
    outputs = {sample: tmp_path / f"{sample}.parquet" for sample in cfg.samples}
    run_import_predictions(cfg, {"predictions": path, "test": sets["test"]}, outputs, {"method": "official"})
    written = {sample: assignments.read(p) for sample, p in outputs.items()}
    assert sum(len(a) for a in written.values()) == len(pt)
    ttbar = written["ttbar"]
    matched = (ttbar["truth"].to_numpy() >= 0).all(axis=1)
    assert matched.sum() >= 5
    assert assignments.correct(ttbar["assignment"].to_numpy(), ttbar["truth"].to_numpy())[matched].all()
    assert np.allclose(ttbar["score"].to_numpy(), -2 * np.log(0.8))


def test_an_imported_method_may_not_take_a_name_of_the_config(tmp_path, pipeline):
    with pytest.raises(ConfigError, match=r"key 'imported': \['saja'\] are also networks"):
        files_config(tmp_path, pipeline.files, imported={"saja": {"format": "spanet_predictions",
                                                                   "predictions": "p.h5"}})


def test_the_schema_allows_exactly_the_registry_formats():
    """A new imported format needs its registry entry (with its module's reader) and nothing
    else: the schema's enum must list the same names."""
    from analysis import methods
    from analysis.config.schema import SCHEMA, read_yaml

    formats = read_yaml(SCHEMA)["properties"]["imported"]["additionalProperties"]["properties"]["format"]["enum"]
    assert formats == methods.imported_names()
    for name in formats:
        assert callable(methods.get(name).adapter().read)
