"""`check-input` tells what the workflow can really do with a file: the topology's decay chains found by the
parton finder (not just Particle branches), repeated branch names, the q/g inputs the q/g code
reads, and one clear line for paths that are not files."""
from __future__ import annotations

import json
import os
from pathlib import Path

import awkward as ak
import pytest

from analysis import cli, inspect
from analysis.events.delphes import DelphesInputError, read
from analysis.inspect import MATCHING, QG_CONSTITUENTS, PartonCensus, check_file, write_report
from analysis.partons import PARTON_FIELDS
from analysis.qg import samples as qg_samples

from .delphes_builders import copy_collections, write_duplicate_particle_branches

COFFEA = Path(__file__).parent / "samples" / "coffea_delphes.root"
TRIGGER = "trigger selection and jet inputs"


def test_w_plus_jets_file_has_every_particle_branch_but_no_ttbar_chain():
    """coffea's real Delphes file (W/gamma + jets, full shower record): the matching is refused
    for its content, not for missing branches; the selection inputs are there."""
    report = check_file(COFFEA)
    assert report.usable and report.events == 25
    assert TRIGGER in report.can
    assert set(PARTON_FIELDS) <= report.collections["Particle"]
    assert report.partons == PartonCensus(events_read=25, with_chain=0)
    assert report.cannot[MATCHING] == "no hadronic t tbar chain in the first 25 events"
    assert MATCHING not in report.can
    pid = ak.flatten(read(COFFEA, {"Particle": ("PID",)})["Particle"].PID)
    assert not ak.any(abs(pid) == 6), "the census agrees with the record: not a single top quark"
    assert report.duplicates == {} and report.warnings == []  # a real Delphes file raises no false alarm


def test_generated_ttbar_file_promises_the_matching_with_its_count(ttbar_file):
    report = check_file(ttbar_file)
    census = report.partons
    assert census.events_read == 1000 and census.with_chain >= 990  # all-hadronic ttbar
    assert report.can[MATCHING] == f"{census.with_chain} of 1000 events read have a hadronic t tbar chain"
    assert f"  can: {MATCHING} ({census.with_chain} of 1000 events read" in report.text()


def test_parton_census_is_bounded_and_does_not_depend_on_the_step(ttbar_file, monkeypatch):
    whole = inspect.parton_census(ttbar_file, 1000)
    monkeypatch.setattr(inspect, "PARTON_CENSUS_STEP", 128)
    assert inspect.parton_census(ttbar_file, 1000) == whole
    monkeypatch.setattr(inspect, "PARTON_CENSUS_EVENTS", 300)
    assert check_file(ttbar_file).partons.events_read == 300


def test_report_json_carries_the_counts_and_warnings(tmp_path, ttbar_file):
    duplicated = write_duplicate_particle_branches(tmp_path / "duplicated.root")
    output = tmp_path / "check_input.json"
    with pytest.warns(UserWarning, match="repeated branch names"):
        write_report([ttbar_file, COFFEA, duplicated], output, sample="user")
    report = json.loads(output.read_text())
    files = report["files"]
    ttbar = check_file(ttbar_file).partons
    assert files[str(ttbar_file)]["hadronic_chains"] == {"events_read": 1000, "with_chain": ttbar.with_chain}
    assert files[str(COFFEA)]["hadronic_chains"] == {"events_read": 25, "with_chain": 0}
    assert files[str(COFFEA)]["cannot"][MATCHING].startswith("no hadronic t tbar chain")
    assert files[str(duplicated)]["hadronic_chains"] == {"events_read": 2, "with_chain": 1}
    assert report["hadronic_chains"] == {"events_read": 1027, "with_chain": ttbar.with_chain + 1}
    assert files[str(duplicated)]["duplicate_branches"]["Particle_size"] == 2
    assert files[str(duplicated)]["warnings"][0].startswith("repeated branch names: Particle (2 branches")
    assert files[str(ttbar_file)]["warnings"] == []


def test_two_branches_of_one_name_are_reported(tmp_path):
    """Built by renaming a second collection's branches to `Particle` in the file's bytes
    (tests/delphes_builders.py), as in scikit-hep-testdata's uproot-issue513.root, a real
    Delphes file with two `Particle` branches (too large to keep in tests/samples)."""
    report = check_file(write_duplicate_particle_branches(tmp_path / "duplicated.root"))
    assert report.duplicates == {f"Particle.{f}": 2 for f in ("Eta", "Mass", "PT", "Phi")} | {"Particle_size": 2}
    assert "BTag" in report.collections["Particle"], "the listing merges the two collections"
    warning = [line for line in report.text().splitlines() if line.startswith("  warning: ")]
    assert warning == [f"  warning: {report.warnings[0]}"]
    assert "Particle (2 branches; 5 repeated names" in warning[0] and "TreeWriter" in warning[0]


def test_qg_line_asks_for_what_the_qg_code_reads(tmp_path, qcd_file, ttbar_file):
    """With JetIndex (our generator), without it (real Delphes: Delta R association), and with no
    candidates at all; the verdict agrees with whether the q/g reader can read the file."""
    no_index = copy_collections(qcd_file, tmp_path / "no_jet_index.root",
                                {"Event": ("Number", "Weight"), "Jet": ("PT", "Eta", "Phi", "Mass", "BTag"),
                                 "ParticleFlowCandidate": qg_samples.CANDIDATE_FIELDS})
    with_index, without_index, no_candidates = (check_file(p) for p in (qcd_file, no_index, ttbar_file))
    assert with_index.can[QG_CONSTITUENTS] == ""
    assert without_index.can[QG_CONSTITUENTS] == "constituents associated to jets by Delta R: no JetIndex"
    assert (f"  can: {QG_CONSTITUENTS} (constituents associated to jets by Delta R: no JetIndex)"
            in without_index.text())
    assert no_candidates.cannot[QG_CONSTITUENTS].startswith("missing ParticleFlowCandidate.PT")
    for path in (qcd_file, no_index):
        spec, _ = qg_samples.read_spec(path)
        assert len(read(path, spec, 0, 10)["ParticleFlowCandidate"]) == 10
    with pytest.raises(DelphesInputError, match="ParticleFlowCandidate"):
        read(ttbar_file, qg_samples.read_spec(ttbar_file)[0], 0, 10)


def test_directory_is_one_clear_line_and_a_failure(tmp_path, capsys):
    (tmp_path / "a.root").write_bytes(b"")
    assert cli.main(["check-input", str(tmp_path), str(COFFEA)]) == 1
    out, err = capsys.readouterr()
    assert err.splitlines() == [f"UNUSABLE {tmp_path}: is a directory, not a ROOT file. Pass the .root files "
                                f"in it instead (e.g. {tmp_path}/*.root)."]
    assert f"OK {COFFEA}: 25 events" in out


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions "
                    "(`unshare -U` runs the tests without that privilege)")
@pytest.mark.parametrize("where", ["file", "directory"])
def test_unreadable_path_is_one_clear_line_and_a_failure(tmp_path, capsys, where):
    locked = tmp_path / "locked"
    locked.mkdir()
    path = locked / "events.root"
    path.write_bytes(COFFEA.read_bytes())
    (path if where == "file" else locked).chmod(0)
    try:
        assert cli.main(["check-input", str(path)]) == 1
    finally:
        locked.chmod(0o700)
        path.chmod(0o600)
    _, err = capsys.readouterr()
    assert err.splitlines() == [f"UNUSABLE {path}: cannot be read (Permission denied). Check that it is a regular "
                                "file you have read permission for (ls -l it and its directory), or re-copy it."]


def test_matching_needs_only_the_particle_fields_the_finder_reads(tmp_path, ttbar_file):
    """A record without Status, M1 and M2 (which the parton finder does not read) is matched."""
    assert not {"Status", "M1", "M2"} & set(PARTON_FIELDS)
    lean = copy_collections(ttbar_file, tmp_path / "lean.root",
                            {"Event": ("Number", "Weight"), "Jet": ("PT", "Eta", "Phi", "Mass", "BTag"),
                             "Particle": PARTON_FIELDS})
    assert check_file(lean).can[MATCHING] == check_file(ttbar_file).can[MATCHING]


def test_the_census_looks_for_the_chains_of_the_runs_topology(tmp_path, reco, ttbar_file, capsys):
    """A t tbar H file holds a t tbar chain and the Higgs's: it passes for both topologies; a t tbar
    file has no H -> b bbar, so the t tbar H run's matching is refused for it, in its words."""
    from analysis.events.generate import generate_chunk
    from analysis.events.pythia import GeneratorSettings
    from analysis.topology import ROOT, load

    tth = load(ROOT / "config" / "topology" / "tth_allhad.yaml")
    tth_file = tmp_path / "tth.root"
    generate_chunk(GeneratorSettings(process="tth_allhad", seed=5), reco, n_events=40, first_event_number=0,
                   output=tth_file, detector_seed=5, progress=False)
    assert check_file(tth_file, tth).can[MATCHING] == "40 of 40 events read have a hadronic t tbar H chain"
    assert check_file(tth_file).can[MATCHING] == "40 of 40 events read have a hadronic t tbar chain"
    assert check_file(ttbar_file, tth).cannot[MATCHING] == "no hadronic t tbar H chain in the first 1000 events"
    output = tmp_path / "check_input.json"
    write_report([tth_file], output, sample="user_tth", topology=tth)
    assert json.loads(output.read_text())["hadronic_chains"] == {"events_read": 40, "with_chain": 40}

    assert cli.main(["check-input", str(ttbar_file), "--topology", str(ROOT / "config/topology/tth_allhad.yaml")]) == 0
    assert "no hadronic t tbar H chain" in capsys.readouterr().out
    assert cli.main(["check-input", str(ttbar_file), "--topology", "config/topology/nope.yaml"]) == 2
    assert "nope.yaml: cannot read the topology file" in capsys.readouterr().err
