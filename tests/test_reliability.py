"""Failures a config or a file already decides are caught at start-up, with the key or file
named; model files are loaded without running code; an empty sample does not break the split."""
from __future__ import annotations

import json
import os
import subprocess
import warnings
from pathlib import Path

import pytest
import torch
import yaml

from analysis import config as configlib
from analysis.core.training import CheckpointError, load_trained, train

from .conftest import REPO, SNAKEMAKE, files_config, split_all
from .test_training import data, model, settings
from .test_workflow import ENV

TEST_YAML = REPO / "config" / "test.yaml"


def edited(change) -> dict:
    raw = yaml.safe_load(TEST_YAML.read_text())
    change(raw)
    return raw


def refused(change, *fragments: str) -> str:
    """The ConfigError of the test config after `change`; each fragment must be in its message."""
    with pytest.raises(configlib.ConfigError) as err:
        configlib.from_dict(edited(change), where="cfg.yaml")
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


# ----------------------------------------------------------------------------- model files


class _Planted:
    """Unpickling this runs a shell command: what a tampered model.pt can do under a full load."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_planted_model_file_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    planted = tmp_path / "model.pt"
    torch.save({"architecture": "saja", "hyperparameters": {}, "state_dict": {}, "x": _Planted(marker)}, planted)
    with pytest.raises(CheckpointError, match=r"model\.pt: holds objects other than tensors.*delete it and rerun"):
        load_trained(planted, lambda *_: None)
    assert not marker.exists()


def test_planted_checkpoint_is_refused_and_a_real_one_resumes(tmp_path):
    """The resume checkpoint goes through the same safe load: a planted last.pt stops training
    (nothing run), while the checkpoint training wrote itself still loads."""
    train(model(), _loss(), data(64, 0), data(32, 1), settings(1), tmp_path / "real")
    assert (tmp_path / "real" / "last.pt").exists()
    (tmp_path / "real" / "model.pt").unlink()
    history = train(model(), _loss(), data(64, 0), data(32, 1), settings(2), tmp_path / "real")
    assert [h["epoch"] for h in history] == [1, 2]  # resumed after epoch 1
    marker = tmp_path / "ran"
    (tmp_path / "planted").mkdir()
    torch.save({"state": _Planted(marker)}, tmp_path / "planted" / "last.pt")
    with pytest.raises(CheckpointError, match="last.pt"):
        train(model(), _loss(), data(64, 0), data(32, 1), settings(1), tmp_path / "planted")
    assert not marker.exists()


def _loss():
    from analysis.methods.saja import ADAPTER as SAJA

    return SAJA.loss


# ----------------------------------------------------------------------------- names and files


def test_every_name_that_becomes_a_path_is_patterned():
    refused(lambda c: c["qg"]["taggers"].update({"../../../x": {"architecture": "shapes"}}),
            "qg.taggers", "../../../x")
    refused(lambda c: c["models"].update({"../m": c["models"]["saja"]}), "models", "../m")


def test_a_detector_card_of_the_wrong_kind_is_named_not_printed(tmp_path):
    """A card path pointing at some other text file: the error names the path and never prints
    the file's content (it printed /etc/passwd)."""
    secret = tmp_path / "notacard.txt"
    secret.write_text("".join(f"user{i}:x:{i}:{i}:secret line {i}:/home/u{i}:/bin/sh\n" for i in range(200)))
    message = refused(lambda c: c.update(detector_card=str(secret)), str(secret), "not a detector card")
    assert "secret line 5" not in message and len(message) < 400
    broken = tmp_path / "broken.yaml"
    broken.write_text("jet_radius: 0.4\ntracker: [unclosed\n")
    refused(lambda c: c.update(detector_card=str(broken)), str(broken), "YAML syntax error at line")


def test_keys_written_twice_are_refused(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text(TEST_YAML.read_text().replace("seed: 12345\n", "seed: 12345\nseed: 999\n", 1))
    with pytest.raises(configlib.ConfigError, match=r"twice\.yaml: YAML syntax error at line 4, column 1: key 'seed' appears twice \(first on line 3\)"):
        configlib.load(path)
    result = subprocess.run([SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--dry-run",
                             "--configfile", str(path)], capture_output=True, text=True, env=ENV)
    assert result.returncode != 0 and "'seed' appears twice" in result.stdout + result.stderr


# ----------------------------------------------------------------------------- decided by the config


def test_late_failures_are_start_up_errors():
    refused(lambda c: c["samples"]["ttbar"].update(events=3, chunks=4), "samples.ttbar.chunks", "at most 3 chunks")
    refused(lambda c: c["samples"]["qcd"].update(pthat_bins=[[200, 400], [300, -1]]), "samples.qcd.pthat_bins",
            "[200.0, 400.0] and [300.0, -1] overlap")
    refused(lambda c: c["samples"]["qcd"].update(pthat_bins=[[400, -1], [200, 500]]), "overlap")
    refused(lambda c: c["samples"]["ttbar"].update(pythia_settings=["PartonLevel:MPI = off", "Foo:bar = 1"]),
            "samples.ttbar.pythia_settings", "['Foo:bar = 1']")
    refused(lambda c: c.update(seed=2**47), "'seed'")
    configlib.from_dict(edited(lambda c: c["samples"]["qcd"].update(pthat_bins=[[200, 400], [400, -1]])))


def test_cuda_without_a_gpu_stops_a_local_run_before_any_job(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    path = tmp_path / "cuda.yaml"
    path.write_text(yaml.safe_dump(edited(lambda c: c["training"].update(device="cuda"))))
    result = subprocess.run([SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--cores", "1",
                             "--configfile", str(path)], capture_output=True, text=True, env=ENV)
    assert result.returncode != 0
    assert "training.device is 'cuda' but torch sees no GPU" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


# ----------------------------------------------------------------------------- an empty sample


def test_a_sample_with_no_selected_event_goes_through_the_split(tmp_path, pipeline):
    """coffea's W + jets file passes no event of the selection: its skim is empty (a warning),
    and the split still writes the datasets with the other samples."""
    from analysis.stages.match import run_match
    from analysis.stages.skim import run_skim

    # the pipeline's config plus the W + jets file (1 pb, its 25 events the whole generated sample)
    cfg = files_config(tmp_path, {**pipeline.files, "wjets": REPO / "tests" / "samples" / "coffea_delphes.root"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_skim(cfg, {"files": cfg.samples["wjets"].paths()},
                 {"skim": tmp_path / "w.parquet", "cutflow": tmp_path / "w.cutflow.json"}, {"sample": "wjets"})
    assert any("no event passes the selection" in str(w.message) for w in caught)
    run_match(cfg, {"skim": tmp_path / "w.parquet"},
              {"matched": tmp_path / "w.matched.parquet", "tables": tmp_path / "w.matching.json"}, {"sample": "wjets"})
    matched = {**{name: pipeline.matched[name] for name in ("ttbar", "qcd")}, "wjets": tmp_path / "w.matched.parquet"}
    _, summary = split_all(cfg, matched, tmp_path / "datasets")
    assert "wjets" not in summary["test_set"]["events"] and summary["events"]["train"]["ttbar"]["matched"] > 0
    assert json.loads((tmp_path / "w.cutflow.json").read_text())["empty"]


# ----------------------------------------------------------------------------- config edits


@pytest.mark.slow
def test_a_config_edit_reruns_exactly_the_rules_it_feeds(tmp_path):
    """After a run up to the matching, editing selection.ht_min reruns the skim and the matching
    (not the generation), editing matching.dr_max only the matching, and the qcd sample's pTHat
    bins only that sample's jobs."""
    def config(change=lambda c: None) -> Path:
        raw = edited(lambda c: (c["samples"]["ttbar"].update(events=300, chunks=1), c.pop("qg"),
                                c["samples"]["qcd"].update(events=100), change(c)))
        path = tmp_path / "edit.yaml"
        path.write_text(yaml.safe_dump(raw))
        return path

    targets = [f"results/test/matched/{s}.parquet" for s in ("ttbar", "qcd")]

    def jobs(change=lambda c: None, *args: str) -> set[tuple[str, str]]:
        result = subprocess.run([SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
                                 "--configfile", str(config(change)), *args, *targets], capture_output=True,
                                text=True, env=ENV)
        assert result.returncode == 0, result.stderr[-3000:]
        planned = set()
        for block in result.stdout.split("\nrule ")[1:]:
            rule = block.split(":", 1)[0]
            sample = next((line.split("sample=")[1].split(",")[0] for line in block.splitlines()
                           if "wildcards:" in line and "sample=" in line), "")
            planned.add((rule, sample))
        return planned

    jobs(lambda c: None, "--cores", "2")
    assert jobs(lambda c: None, "--dry-run") == set()
    assert jobs(lambda c: c.setdefault("selection", {}).update(ht_min=500), "--dry-run") == {
        ("skim", "ttbar"), ("skim", "qcd"), ("match", "ttbar"), ("match", "qcd")}
    assert jobs(lambda c: c["matching"].update(dr_max=0.25), "--dry-run") == {("match", "ttbar"), ("match", "qcd")}
    assert jobs(lambda c: c["samples"]["qcd"].update(pthat_bins=[[250, 400], [400, -1]]), "--dry-run") == {
        ("generate", "qcd"), ("skim", "qcd"), ("match", "qcd")}


# ----------------------------------------------------------------------------- two writers


def test_two_writers_of_one_artifact_fail_loudly_and_the_first_completes(tmp_path):
    """Snakemake 9.27 can let two instances run the same job (its lock folder is deleted when any
    instance exits): the second writer of an artifact, and its leftover sweep, stop naming the
    artifact, while the first writer's file completes untouched."""
    import threading

    from analysis.core.provenance import ConcurrentWriteError, atomic_output, sweep_leftovers

    target = tmp_path / "skim.parquet"
    writing, release = threading.Event(), threading.Event()

    def first():
        with atomic_output(target) as tmp:
            tmp.write_text("first, complete")
            writing.set()
            release.wait(10)

    thread = threading.Thread(target=first)
    thread.start()
    assert writing.wait(10)
    with pytest.raises(ConcurrentWriteError, match=r"skim\.parquet: another process is writing it.*two|Two"):
        with atomic_output(target) as tmp:
            tmp.write_text("second")
    with pytest.raises(ConcurrentWriteError, match="skim.parquet"):
        sweep_leftovers([target])
    release.set()
    thread.join()
    assert target.read_text() == "first, complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["skim.parquet"]  # no lock or temporary left
    assert sweep_leftovers([target]) == []


def test_each_rule_tracks_only_the_config_it_depends_on():
    """The params hash of each rule (Config.rule_config): a network's hyperparameters reach its own
    train/predict/export, its metrics and the evaluation, not the other network nor the baselines
    (nor the Fig. 8 masses, which are another method's); a q/g tagger's reach only that tagger's
    training and scoring, and the calibration; the reconstruction settings only the masses."""
    from analysis.core.provenance import config_hash

    def hashes(change=lambda c: None) -> dict[tuple[str, str | None], str]:
        cfg = configlib.from_dict(edited(change))
        keys = [("train", "saja"), ("train", "spanet"), ("predict", "saja"), ("predict", "spanet"),
                ("baseline", None), ("evaluate", None), ("split", None),
                ("method_metrics", "saja"), ("method_metrics", "spanet"), ("method_metrics", "chi2_6"),
                ("reconstruction", None), ("qg_train", "shapes"), ("qg_train", "transformer"), ("qg_calibrate", None)]
        return {(rule, name): config_hash(cfg.rule_config(rule, None, name)) for rule, name in keys}

    base = hashes()
    model = hashes(lambda c: c["models"]["saja"].update(d_k=16))
    assert {k for k in base if base[k] != model[k]} == {("train", "saja"), ("predict", "saja"), ("evaluate", None),
                                                        ("method_metrics", "saja")}
    masses = hashes(lambda c: c["models"]["spanet"].update(d_model=16))  # spanet: the test config's Fig. 8 method
    assert {k for k in base if base[k] != masses[k]} == {("train", "spanet"), ("predict", "spanet"), ("evaluate", None),
                                                         ("method_metrics", "spanet"), ("reconstruction", None)}
    cut = hashes(lambda c: c["evaluation"]["reconstruction"].update(efficiency=0.3))
    assert {k for k in base if base[k] != cut[k]} == {("evaluate", None), ("reconstruction", None)}
    tagger = hashes(lambda c: c["qg"]["taggers"]["shapes"].update(hidden=8))
    assert {k for k in base if base[k] != tagger[k]} == {("qg_train", "shapes"), ("qg_calibrate", None)}
    baseline = hashes(lambda c: c["baselines"]["klfitter"].update(btag_aware=False))
    assert {k for k in base if base[k] != baseline[k]} == {("baseline", None), ("evaluate", None),
                                                           ("method_metrics", "chi2_6")}
