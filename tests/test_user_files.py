"""Users' own Delphes files: the config given is the whole config, real generator weights, the
b-tag bit field, unique file keys, and jet-shape inputs checked before any job."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import warnings
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml

from analysis import config as configlib
from analysis.datasets import split_fractions
from analysis.events.weights import read_weights
from analysis.normalisation import NormalisationError, file_sample_normalisation
from analysis.selection import tagged
from analysis.stages.skim import run_skim

from .conftest import REPO, SNAKEMAKE
from .delphes_builders import write_delphes
from .test_workflow import ENV

COFFEA = REPO / "tests" / "samples" / "coffea_delphes.root"
COFFEA_SHA256 = "af2ea9ad3982751f6fec7b39b6be8a35dbae9a4244cfb56fbd35ae5b9d5bd7ea"
COFFEA_WEIGHT = 1530891.0


def user_config(tmp_path: Path, samples: dict[str, dict], **sections) -> dict:
    """A config of the user's own: their samples and one small SAJA, nothing of config.yaml."""
    raw = {
        "tag": "mine", "seed": 1, "detector_card": str(REPO / "config" / "detector_cms.yaml"),
        "samples": samples, "datasets": {"training_sample": next(iter(samples))},
        "models": {"saja": {"architecture": "saja", "features": ["pt", "eta", "phi", "pt_ht", "btag"], "d_k": 4,
                            "heads": 2, "d_ffn": 16, "blocks": 1}},
        "evaluation": {"reconstruction": {"method": "saja"}},
    }
    raw.update(sections)
    return raw


def files_sample(*files: Path, **keys) -> dict:
    return {"source": "files", "files": [str(f) for f in files], "cross_section_pb": 1000.0, **keys}


def skim(tmp_path: Path, sample: dict, files: list[Path], name: str = "user", **selection) -> tuple[dict, ak.Array]:
    """Skim `files` as the one sample of a user config; the cutflow JSON and the skimmed events."""
    raw = user_config(tmp_path, {name: sample})
    raw["selection"] = selection
    cfg = configlib.from_dict(raw, where="user.yaml")
    out, cutflow = tmp_path / f"{name}.parquet", tmp_path / f"{name}.cutflow.json"
    with warnings.catch_warnings():  # empty skims and background records warn; not the point here
        warnings.simplefilter("ignore", UserWarning)
        run_skim(cfg, {"files": [str(f) for f in files]}, {"skim": out, "cutflow": cutflow}, {"sample": name})
    return json.loads(cutflow.read_text()), ak.from_parquet(out)


def dry_run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([SNAKEMAKE, "--dry-run", "--nolock", *args], capture_output=True, text=True, env=ENV,
                          cwd=cwd)


# ----------------------------------------------------------------------------- the config


def test_configfile_from_the_repository_root_is_the_whole_config():
    """From the repository root, `--configfile config/test.yaml` plans test.yaml's samples only,
    while no --configfile plans config.yaml's (the Snakefile's default)."""
    mine = dry_run("--configfile", "config/test.yaml")
    assert mine.returncode == 0, mine.stderr[-3000:]
    assert "results/test/events/ttbar/chunk1.root" in mine.stdout or "Nothing to be done" in mine.stdout
    assert "ttbar_vincia" not in mine.stdout and "results/default" not in mine.stdout
    default = dry_run()
    assert default.returncode == 0, default.stderr[-3000:]
    assert "results/default/events/ttbar_vincia/chunk0.root" in default.stdout


def test_a_one_sample_files_config_plans_only_its_own_jobs(tmp_path):
    """A user config with one `source: files` sample named like config.yaml's ttbar and one model:
    no key of config.yaml leaks into it (no generation, no q/g study, no schema error on keys the
    user never wrote)."""
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(user_config(tmp_path, {"ttbar": files_sample(COFFEA, generated_events=25)})))
    result = dry_run("--configfile", str(path))
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = {line.split()[0] for line in result.stdout.split("Job stats:")[1].split("total")[0].splitlines()[2:]
            if line.strip()}
    assert "generate" not in jobs and not any(job.startswith("qg") for job in jobs)
    assert {"check_input", "skim", "match", "split", "train", "predict", "baseline"} <= jobs
    assert "results/default" not in result.stdout and "results/mine/skim/ttbar.parquet" in result.stdout


# ----------------------------------------------------------------------------- a real Delphes file


def test_coffea_sample_is_the_file_we_think():
    assert hashlib.sha256(COFFEA.read_bytes()).hexdigest() == COFFEA_SHA256


def test_real_delphes_file_normalised_to_the_configured_cross_section(tmp_path):
    """coffea's MG5 + Pythia 8 file (weights 1.53e6 each): the cutflow's first row is the
    configured 1000 pb, not 1.53e9 pb; its selection keeps no W + jets event (>= 6 jets)."""
    cutflow, events = skim(tmp_path, files_sample(COFFEA, generated_events=25), [COFFEA])
    first = cutflow["cutflow"][0]
    assert first["events"] == 25 and first["sum_of_weights"] == pytest.approx(25 * COFFEA_WEIGHT)
    assert first["cross_section_pb"] == pytest.approx(1000.0, rel=1e-12)
    assert cutflow["normalisation"]["weights"]["kind"] == "constant"
    assert cutflow["selected_events"] == 0 and len(events) == 0


def test_filtered_sample_with_constant_weights(tmp_path):
    """25 events kept of 100 generated: each generated event would have carried the same weight,
    so the 25 carry a quarter of the cross-section."""
    cutflow, _ = skim(tmp_path, files_sample(COFFEA, generated_events=100), [COFFEA])
    assert cutflow["cutflow"][0]["cross_section_pb"] == pytest.approx(250.0, rel=1e-12)


def weighted_file(path: Path, weights: list[float]) -> Path:
    return write_delphes(path, [[(50.0, 0.0, 0.0, 1)]] * len(weights), weights=weights)


@pytest.mark.parametrize("weights", [[1.0, 1.0, 1.0, 1.0], [3.0, -1.0, 2.0, 0.5], [2.5e6, 2.5e6, -2.5e6, 2.5e6]])
def test_whole_sample_shows_its_cross_section_whatever_the_weights(tmp_path, weights):
    """Unit, varying and MC@NLO-like (negative) weights of a file holding the whole generated
    sample: the first cutflow row is the configured cross-section."""
    path = weighted_file(tmp_path / "w.root", weights)
    cutflow, _ = skim(tmp_path, files_sample(path, generated_events=len(weights)), [path], n_jets_min=1,
                      n_btag_min=0, ht_min=0, n_jets_pt_min=0)
    assert cutflow["cutflow"][0]["cross_section_pb"] == pytest.approx(1000.0, rel=1e-12)
    assert cutflow["normalisation"]["weights"]["negative_fraction"] == pytest.approx(np.mean(np.array(weights) < 0))


def test_filtered_sample_with_varying_weights_is_refused(tmp_path):
    path = weighted_file(tmp_path / "w.root", [3.0, -1.0, 2.0, 0.5])
    sample = configlib.from_dict(user_config(tmp_path, {"w": files_sample(path, generated_events=10)})).samples["w"]
    with pytest.raises(NormalisationError, match=r"'w'.*varying.*4 of the 10.*samples\.w\.generated_events by "
                                                 r"sum_of_weights"):
        file_sample_normalisation(sample, [path])
    given = configlib.from_dict(user_config(tmp_path, {"w": files_sample(path, sum_of_weights=9.0)})).samples["w"]
    assert file_sample_normalisation(given, [path]).scale == pytest.approx(1000.0 / 9.0)


def test_weights_summary_reads_in_steps(tmp_path):
    path = weighted_file(tmp_path / "w.root", [3.0, -1.0, 2.0, 0.5, 1.0])
    whole, stepped = read_weights([path]), read_weights([path], step_size=2)
    assert whole == stepped and whole.total == pytest.approx(5.5) and whole.negative == 1 and whole.kind == "varying"


# ----------------------------------------------------------------------------- b-tag bits


def test_btag_bit_decoding():
    assert tagged(np.array([0, 1, 2, 3, 4, 5]), 0).tolist() == [0, 1, 0, 1, 0, 1]
    assert tagged(np.array([0, 1, 2, 3, 4, 5]), 1).tolist() == [0, 0, 1, 1, 0, 0]


@pytest.mark.parametrize("bit", [0, 1])
def test_skim_selects_by_the_configured_btag_bit(tmp_path, bit):
    """coffea's file has BTag values 0-3: the events kept by a >= 1 b-tag selection are exactly
    those with a jet whose configured bit is set, and the skim stores that bit as 0/1."""
    raw = uproot.open(COFFEA)["Delphes"].arrays(["Jet.PT", "Jet.Eta", "Jet.BTag"], how=dict)
    used = (raw["Jet.PT"] > 20) & (abs(raw["Jet.Eta"]) < 2.4)
    expected = ak.to_numpy(ak.any(used & ((raw["Jet.BTag"] >> bit) & 1 == 1), axis=1))
    assert 0 < expected.sum() < 25
    cutflow, events = skim(tmp_path, files_sample(COFFEA, generated_events=25, btag_bit=bit), [COFFEA],
                           jet_pt_min=20, n_jets_min=1, n_jets_pt_min=20, n_btag_min=1, ht_min=0)
    assert cutflow["cutflow"][2]["events"] == expected.sum()
    assert set(ak.flatten(events.jets.btag).tolist()) <= {0, 1} and cutflow["btag_bit"] == bit
    numbers = ak.to_numpy(ak.flatten(uproot.open(COFFEA)["Delphes"]["Event/Event.Number"].array()))
    assert sorted(events.event.to_list()) == sorted(numbers[expected].tolist())


# ----------------------------------------------------------------------------- file keys


def test_same_file_name_in_two_runs_gives_distinct_keys_and_independent_split(tmp_path, ttbar_file):
    """MadGraph's Events/run_01/tag_1_delphes_events.root and run_02/...: the same name and event
    numbers, yet each run keeps its own key, and the split treats them as different events."""
    files = []
    for run in ("run_01", "run_02"):
        (tmp_path / "Events" / run).mkdir(parents=True)
        files.append(shutil.copy(ttbar_file, tmp_path / "Events" / run / "tag_1_delphes_events.root"))
    _, events = skim(tmp_path, files_sample(*files, generated_events=2000), files)
    keys = np.array(events.file.to_list())
    assert set(keys) == {"run_01/tag_1_delphes_events.root", "run_02/tag_1_delphes_events.root"}
    first, second = (keys == "run_01/tag_1_delphes_events.root"), (keys == "run_02/tag_1_delphes_events.root")
    numbers = events.event.to_numpy()
    assert (numbers[first] == numbers[second]).all()  # the same events, twice
    u = split_fractions(1, "user", keys, numbers)
    assert (u[first] != u[second]).all()
    assert abs(np.corrcoef(u[first], u[second])[0, 1]) < 0.3


def test_one_folder_keeps_bare_file_names(tmp_path, ttbar_file):
    """Generated chunks sit in one folder: their keys (and so the split) are the bare names."""
    from analysis.core.keys import file_keys

    paths = [str(tmp_path / f"chunk{i}.root") for i in range(2)]
    assert file_keys(paths) == {paths[0]: "chunk0.root", paths[1]: "chunk1.root"}


# ----------------------------------------------------------------------------- jet shapes


def test_networks_without_their_shape_inputs_are_refused_before_any_job(tmp_path):
    """test.yaml plus a real Delphes sample (no SAJA shape branches): saja_shape could not be
    applied to it, so snakemake stops at start naming the model, the sample and the fix; without
    saja_shape the same config plans its jobs."""
    cfg = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    cfg["samples"]["wjets"] = files_sample(COFFEA, generated_events=25)
    path = tmp_path / "mixed.yaml"
    path.write_text(yaml.safe_dump(cfg))
    refused = dry_run("--directory", str(tmp_path), "-s", str(REPO / "Snakefile"), "--configfile", str(path))
    assert refused.returncode != 0
    message = refused.stdout + refused.stderr
    assert "saja_shape" in message and "wjets" in message and "Jet.AxisMajor" in message
    assert not (tmp_path / "results").exists()
    del cfg["models"]["saja_shape"]
    path.write_text(yaml.safe_dump(cfg))
    planned = dry_run("--directory", str(tmp_path), "-s", str(REPO / "Snakefile"), "--configfile", str(path))
    assert planned.returncode == 0, planned.stderr[-3000:]
    assert "results/test/assignments/saja/wjets.parquet" in planned.stdout


# ----------------------------------------------------------------------------- check-input


def test_check_input_reports_the_weights(tmp_path):
    """check-input shows what the normalisation will see: coffea's constant 1.53e6, and varying
    weights with their negative fraction; a file without Event.Weight is unusable (the skim needs it)."""
    from analysis.inspect import check_file

    coffea = check_file(COFFEA)
    assert coffea.usable and coffea.weights.kind == "constant" and coffea.weights.maximum == COFFEA_WEIGHT
    assert "constant, 1.53089e+06 for each of 25 events" in coffea.text()
    varying = check_file(weighted_file(tmp_path / "w.root", [3.0, -1.0, 2.0, 0.5]))
    assert varying.as_dict()["weights"]["negative_fraction"] == 0.25
    assert "varying, -1 to 3, sum 4.5 over 4 events, 25.0 % negative" in varying.text()
    path = tmp_path / "noweight.root"
    with uproot.recreate(path) as f:
        jets = ak.Array([[{"PT": 50.0, "Eta": 0.0, "Phi": 0.0, "Mass": 5.0, "BTag": 1}]])
        event = ak.Array([[{"Number": 1}]])
        f.mktree("Delphes", {"Event": event.type.content, "Jet": jets.type.content},
                 counter_name=lambda c: f"{c}_size", field_name=lambda o, i: f"{o}.{i}")
        f["Delphes"].extend({"Event": event, "Jet": jets})
    missing = check_file(path)
    assert not missing.usable and "Event.Weight" in missing.error and "TreeWriter" in missing.error
