"""The Delphes reader: our files, files in Delphes' own branch spelling, and bad inputs."""
from __future__ import annotations

import subprocess
import sys

import awkward as ak
import numpy as np
import pytest
import uproot

from analysis.events.delphes import JET_KINEMATICS, DelphesInputError, iterate, open_tree, read
from analysis.events.jets import SHAPE_BRANCHES
from analysis.inspect import check_file


def test_generated_file_reads_through_uproot_and_coffea(ttbar_file):
    from coffea.nanoevents import DelphesSchema, NanoEventsFactory

    ours = read(ttbar_file, {"Jet": JET_KINEMATICS + SHAPE_BRANCHES, "Event": ("Number", "Weight")})
    events = NanoEventsFactory.from_root({str(ttbar_file): "Delphes"}, schemaclass=DelphesSchema,
                                         mode="eager").events()
    assert len(events) == len(ours["Jet"]) == 1000
    assert ak.all(events.Jet.pt == ours["Jet"].PT)
    assert ak.all(events.Event.Number == ours["Event"].Number[:, 0])
    assert ak.all(ak.num(events.Jet) > 0)
    assert ak.all(events.Jet.pt[:, :-1] >= events.Jet.pt[:, 1:]), "jets sorted by pT as in Delphes"
    assert ak.all(events.Jet.pt >= 20)


def test_constituents_written_per_jet(qcd_file):
    data = read(qcd_file, {"Jet": ("PT", "NCharged", "NNeutrals"),
                           "ParticleFlowCandidate": ("PT", "Eta", "Phi", "Charge", "PID", "JetIndex")})
    jets, cands = data["Jet"], data["ParticleFlowCandidate"]
    per_jet = ak.to_numpy(ak.flatten(jets.NCharged + jets.NNeutrals))
    njets = ak.to_numpy(ak.num(jets))
    jet_global = ak.to_numpy(ak.flatten(cands.JetIndex + np.concatenate([[0], np.cumsum(njets)[:-1]])))
    np.testing.assert_array_equal(np.bincount(jet_global, minlength=len(per_jet)), per_jet)
    assert set(np.unique(np.abs(ak.to_numpy(ak.flatten(cands.PID))))) <= {11, 13, 22, 130, 211}


@pytest.fixture
def delphes_spelling_file(tmp_path):
    """A file spelled the way ROOT shows real Delphes leaves (`Jet.PT`, uint32 BTag, TObject
    members, a full particle record with shower copies)."""
    path = tmp_path / "real_layout.root"
    jets = ak.zip({"fUniqueID": ak.Array([[1, 2], [3]]), "PT": ak.Array([[55.0, 41.0], [33.0]]),
                   "Eta": ak.Array([[0.1, -1.2], [2.0]]), "Phi": ak.Array([[0.5, -2.0], [3.0]]),
                   "Mass": ak.Array([[5.0, 4.0], [3.0]]),
                   "BTag": ak.values_astype(ak.Array([[1, 0], [0]]), np.uint32)})
    particles = ak.zip({field: ak.Array([[0, 0, 0], [0]]) for field in
                        ("PID", "Status", "M1", "M2", "D1", "D2", "PT", "Eta", "Phi", "Mass")})
    event = ak.zip({"Number": ak.Array([[1], [2]]), "Weight": ak.Array([[1.0], [1.0]])})
    with uproot.recreate(path) as f:
        f.mktree("Delphes", {"Event": event.type.content, "Jet": jets.type.content,
                             "Particle": particles.type.content},
                 counter_name=lambda c: f"{c}_size", field_name=lambda o, i: f"{o}.{i}")
        f["Delphes"].extend({"Event": event, "Jet": jets, "Particle": particles})
    return path


def test_reader_accepts_delphes_leaf_spelling(delphes_spelling_file):
    jets = read(delphes_spelling_file, {"Jet": JET_KINEMATICS})["Jet"]
    assert ak.to_list(jets.PT) == [[55.0, 41.0], [33.0]]
    assert ak.to_list(jets.BTag) == [[1, 0], [0]]
    report = check_file(delphes_spelling_file)
    assert report.usable and report.events == 2
    assert "SAJA jet-shape inputs" in report.cannot


def test_iterate_streams_in_steps(ttbar_file):
    sizes = [len(arrays["Jet"]) for _, arrays in iterate([ttbar_file], {"Jet": ("PT",)}, step_size=300)]
    assert sizes == [300, 300, 300, 100]


# ---------------------------------------------------------------------------- bad inputs

@pytest.fixture
def bad_missing(tmp_path):
    return tmp_path / "nope.root", "file not found"


@pytest.fixture
def bad_directory(tmp_path):
    path = tmp_path / "delphes_output"
    path.mkdir()
    return path, f"is a directory, not a ROOT file. Pass the .root files in it instead (e.g. {path}/*.root)"


@pytest.fixture
def bad_not_root(tmp_path):
    path = tmp_path / "events.root"
    path.write_text("run,event\n1,2\n")
    return path, "not a ROOT file"


@pytest.fixture
def bad_truncated(tmp_path, ttbar_file):
    path = tmp_path / "truncated.root"
    path.write_bytes(ttbar_file.read_bytes()[:5000])
    return path, "truncated"


@pytest.fixture
def bad_no_delphes_tree(tmp_path):
    path = tmp_path / "other.root"
    with uproot.recreate(path) as f:
        f.mktree("Events", {"x": np.float64})
        f["Events"].extend({"x": np.arange(3.0)})
    return path, "no 'Delphes' tree"


@pytest.fixture
def bad_missing_branch(tmp_path):
    path = tmp_path / "nojets.root"
    event = ak.zip({"Number": ak.Array([[1]])})
    with uproot.recreate(path) as f:
        f.mktree("Delphes", {"Event": event.type.content}, counter_name=lambda c: f"{c}_size",
                 field_name=lambda o, i: f"{o}/{o}.{i}")
        f["Delphes"].extend({"Event": event})
    return path, "missing branch(es) Jet.PT"


BAD = ["bad_missing", "bad_directory", "bad_not_root", "bad_truncated", "bad_no_delphes_tree", "bad_missing_branch"]


@pytest.mark.parametrize("bad", BAD)
def test_bad_input_gives_clear_error(bad, request):
    path, message = request.getfixturevalue(bad)
    with pytest.raises(DelphesInputError) as err:
        read(path, {"Jet": JET_KINEMATICS})
    assert str(path) in str(err.value) and message in str(err.value)


@pytest.mark.parametrize("bad", BAD)
def test_check_input_cli_rejects_bad_files_without_traceback(bad, request, ttbar_file):
    path, message = request.getfixturevalue(bad)
    result = subprocess.run([sys.executable, "-m", "analysis", "check-input", str(ttbar_file), str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert f"OK {ttbar_file}: 1000 events" in result.stdout


def test_open_tree_of_good_file(ttbar_file):
    assert open_tree(ttbar_file).num_entries == 1000
