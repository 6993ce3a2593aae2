"""The skim: trigger selection edge cases, cutflow, normalisation and bad input."""
from __future__ import annotations

import dataclasses
import json

import awkward as ak
import numpy as np
import pytest

from analysis.core.provenance import meta_path, read_meta, write_json
from analysis.events.delphes import DelphesInputError
from analysis.normalisation import weight_scales
from analysis.selection import SkimError
from analysis.stages.skim import run_skim

from .conftest import files_config
from .delphes_builders import write_delphes

pytestmark = pytest.mark.xdist_group("pipeline")  # one worker builds the shared pipeline fixture


def six(pt=100.0, eta=0.0, btag=(1, 0, 0, 0, 0, 0)):
    return [(pt, eta, 0.5 * i, b) for i, b in enumerate(btag)]


EDGE_EVENTS = {  # event number: (jets, passes)
    0: (six(), True),
    1: (six()[:5] + [(40.0, 0.0, 3.0, 0)], False),            # sixth jet exactly at 40 GeV: not above
    2: (six()[:5] + [(40.01, 0.0, 3.0, 0)], True),
    3: (six()[:5] + [(100.0, 2.41, 3.0, 0)], False),          # sixth jet outside abs(eta) < 2.4
    4: (six()[:5] + [(100.0, -2.39, 3.0, 0)], True),
    5: (six(btag=(0,) * 6) + [(35.0, 0.0, 1.0, 1)], False),   # only b tag on a 35 GeV jet
    6: (six(pt=75.0), False),                                 # HT = 450 exactly: not above
    7: (six(pt=75.0) + [(30.5, 0.0, 1.0, 0)], True),          # a 30.5 GeV jet adds to HT
    8: (six(pt=75.0) + [(30.0, 0.0, 1.0, 0)], False),         # a 30 GeV jet is not used
    9: (six(pt=75.0) + [(200.0, 2.5, 1.0, 0)], False),        # nor is a forward one
}


@pytest.fixture
def edge_file(tmp_path):
    numbers = list(EDGE_EVENTS)
    return write_delphes(tmp_path / "edges.root", [EDGE_EVENTS[n][0] for n in numbers], numbers=numbers)


def skim_file(tmp_path, path, **sections):
    cfg = files_config(tmp_path, {"sample": path}, **sections)
    out, cutflow = tmp_path / "skim.parquet", tmp_path / "cutflow.json"
    run_skim(cfg, {"files": [path]}, {"skim": out, "cutflow": cutflow}, {"sample": "sample"})
    return ak.from_parquet(out), json.loads(cutflow.read_text()), out


def test_selection_edges_at_every_threshold(tmp_path, edge_file):
    with pytest.warns(UserWarning, match="no Particle branches"):
        events, cutflow, _ = skim_file(tmp_path, edge_file)
    expected = sorted(n for n, (_, passes) in EDGE_EVENTS.items() if passes)
    assert sorted(ak.to_list(events.event)) == expected
    assert [c["events"] for c in cutflow["cutflow"]] == [10, 8, 7, 4]
    assert [c["cut"] for c in cutflow["cutflow"]][1:] == [
        ">= 6 jets with pT > 40 GeV", ">= 1 b-tagged among them", "HT > 450 GeV"]
    # kept jets are the used ones, HT is their sum
    assert ak.to_list(ak.num(events.jets)) == [6, 6, 6, 7]
    np.testing.assert_allclose(ak.to_numpy(events.ht), ak.to_numpy(ak.sum(events.jets.pt, axis=1)), rtol=1e-6)
    assert ak.all(ak.num(events.partons) == 0)


def test_thresholds_come_from_config(tmp_path, edge_file):
    selection = {"ht_min": 400.0, "n_btag_min": 0}
    with pytest.warns(UserWarning):
        events, _, _ = skim_file(tmp_path, edge_file, selection=selection)
    assert sorted(ak.to_list(events.event)) == [0, 2, 4, 5, 6, 7, 8, 9]


def test_empty_selection_warns_and_writes_a_valid_empty_skim(tmp_path):
    path = write_delphes(tmp_path / "soft.root", [six(pt=35.0)] * 3, particles=[[]] * 3)
    with pytest.warns(UserWarning, match="no event passes the selection"):
        events, cutflow, out = skim_file(tmp_path, path)
    assert len(events) == 0 and "jets" in events.fields
    assert cutflow["empty"] and read_meta(out)["empty"] and read_meta(out)["selected_events"] == 0


def test_nan_jet_is_an_error_naming_file_branch_and_event(tmp_path):
    jets = [six(), six()[:5] + [(float("nan"), 0.0, 0.0, 0)]]
    path = write_delphes(tmp_path / "nan.root", jets, particles=[[], []], numbers=[41, 42])
    with pytest.raises(SkimError, match=r"nan\.root: Jet\.PT has 1 NaN.*event number 42"):
        skim_file(tmp_path, path)
    assert not (tmp_path / "skim.parquet").exists()


def test_missing_jet_branch_is_an_error(tmp_path):
    import uproot

    path = tmp_path / "nobtag.root"
    with uproot.recreate(path) as f:
        jets = ak.zip({"PT": ak.Array([[50.0]]), "Eta": ak.Array([[0.0]]), "Phi": ak.Array([[0.0]]),
                       "Mass": ak.Array([[1.0]])})
        event = ak.zip({"Number": ak.Array([[1]]), "Weight": ak.Array([[1.0]])})
        f.mktree("Delphes", {"Event": event.type.content, "Jet": jets.type.content},
                 counter_name=lambda c: f"{c}_size", field_name=lambda o, i: f"{o}.{i}")
        f["Delphes"].extend({"Event": event, "Jet": jets})
    with pytest.raises(DelphesInputError, match=r"nobtag\.root: missing branch\(es\) Jet\.BTag"):
        skim_file(tmp_path, path)


def test_a_failed_rerun_leaves_no_orphan_sidecar_or_temporary(tmp_path):
    """After a failed skim snakemake deletes the outputs, not their sidecars; a SIGKILL leaves
    temporaries. The next skim job removes both first, even when it fails itself, and leaves
    other samples' files alone."""
    outputs = (tmp_path / "skim.parquet", tmp_path / "cutflow.json")
    stale = [*(meta_path(o) for o in outputs), tmp_path / ".skim.parquet.tmp-4242",
             tmp_path / ".cutflow.json.meta.json.tmp-4242"]
    for path in stale:
        path.write_text("stale")
    jets = [six(), six()[:5] + [(float("nan"), 0.0, 0.0, 0)]]
    source = write_delphes(tmp_path / "nan.root", jets, particles=[[], []], numbers=[41, 42])
    kept = [source, tmp_path / "other.parquet", meta_path(tmp_path / "other.parquet"), tmp_path / ".other.parquet.tmp-1"]
    for path in kept[1:]:
        path.write_text("another sample's")
    with pytest.raises(SkimError, match="NaN"):
        skim_file(tmp_path, source)
    assert sorted(tmp_path.iterdir()) == sorted(kept)


def test_cross_section_weights_of_generated_chunks(tmp_path, test_config):
    """Chunks of one pTHat bin share the bin's cross-section, averaged with their sums of weights."""
    metas = {"a": ([100, 200], 10.0, 4.0), "b": ([100, 200], 14.0, 12.0), "c": ([200, None], 2.0, 5.0)}
    files = []
    for name, (pthat_bin, sigma, sum_w) in metas.items():
        files.append(tmp_path / f"{name}.root")
        files[-1].touch()
        write_json(meta_path(files[-1]), {"pthat_bin": pthat_bin, "cross_section_pb": sigma, "sum_of_weights": sum_w})
    sample = dataclasses.replace(test_config.generated()["qcd"], name="s", events=1, chunks=2)
    scales = weight_scales(sample, files)
    sigma_ab = (10.0 * 4 + 14.0 * 12) / 16
    assert scales[str(files[0])] == pytest.approx(sigma_ab / 16) == scales[str(files[1])]
    assert scales[str(files[2])] == pytest.approx(2.0 / 5.0)


def test_generated_ttbar_cutflow(pipeline):
    """Measured here: ~7 % of all-hadronic ttbar pass; the weighted sums give the cross-section."""
    cutflow = json.loads(pipeline.cutflow["ttbar"].read_text())["cutflow"]
    efficiency = cutflow[-1]["efficiency"]
    assert 0.04 < efficiency < 0.11
    assert cutflow[0]["cross_section_pb"] == pytest.approx(1.0)  # files_config: 1 pb, the whole sample
    assert all(a["events"] >= b["events"] for a, b in zip(cutflow, cutflow[1:], strict=False))
    events = ak.from_parquet(pipeline.skim["ttbar"])
    assert len(events) == cutflow[-1]["events"]
    assert ak.all(ak.num(events.jets) >= 6) and ak.all(ak.num(events.partons) == 6)
    assert {"ptd", "axis_major", "n_muons", "flavor"} <= set(events.jets.fields)


def test_columnar_skim_agrees_with_the_per_event_loop(pipeline):
    """Every one of the 3000 generated events: same selection decision and same partons."""
    from analysis.events.delphes import read
    from analysis.partons import PARTON_FIELDS

    from . import reference

    raw = read(pipeline.files["ttbar"], {"Event": ("Number",), "Jet": ("PT", "Eta", "BTag"),
                                         "Particle": PARTON_FIELDS})
    selected = []
    for number, jets, particles in zip(raw["Event"].Number.to_list(), raw["Jet"].to_list(),
                                       raw["Particle"].to_list(), strict=True):
        jets = [{"pt": j["PT"], "eta": j["Eta"], "btag": j["BTag"]} for j in jets]
        if reference.passes_selection(jets, pipeline.cfg.cuts):
            selected.append((number[0], [(p["PID"], p["PT"]) for p in reference.ttbar_partons(particles)]))
    events = ak.from_parquet(pipeline.skim["ttbar"])
    columnar = [(n, list(zip(pid, pt, strict=True))) for n, pid, pt in
                zip(events.event.to_list(), events.partons.pid.to_list(), events.partons.pt.to_list(), strict=True)]
    assert len(selected) == len(columnar) > 100
    assert [n for n, _ in selected] == [n for n, _ in columnar]
    for (_, loop_partons), (_, our_partons) in zip(selected, columnar, strict=True):
        assert [p for p, _ in loop_partons] == [p for p, _ in our_partons]
        np.testing.assert_allclose([x for _, x in loop_partons], [x for _, x in our_partons], rtol=1e-6)
