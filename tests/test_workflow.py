"""The snakemake workflow: end to end on config/test.yaml, profiles, bad configs."""
from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
import yaml

from analysis.evaluation.summary import method_name
from analysis.events.delphes import read

from .conftest import REPO, SNAKEMAKE

ENV = {**os.environ, "CONDOR_CONFIG": "/dev/null"}


def snakemake(workdir, *args, configfile=REPO / "config" / "test.yaml"):
    return subprocess.run(
        [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--configfile", str(configfile),
         *args],
        capture_output=True, text=True, env=ENV,
    )


def table_row(tables_md, method: str, metrics: dict) -> bool:
    """Whether the Markdown tables have a row of `method`, named as the tables name it."""
    return f"| {method_name(metrics, method)} |" in tables_md.read_text()


@pytest.mark.slow
@pytest.mark.xdist_group("test_config_run")
def test_end_to_end_on_test_config(test_config_run, tmp_path):
    workdir = test_config_run
    events = workdir / "results" / "test" / "events"
    chunks = sorted(p.name for p in (events / "ttbar").glob("chunk*.root"))
    assert chunks == ["chunk0.root", "chunk1.root"]
    meta = json.loads((events / "qcd" / "chunk1.root.meta.json").read_text())
    assert meta["pthat_bin"] == [400.0, None] and meta["stage"] == "generate" and meta["tag"] == "test"
    jets = read(events / "qcd" / "chunk1.root", {"Jet": ("PT",), "ParticleFlowCandidate": ("JetIndex",)})
    assert len(jets["Jet"]) == 200
    assert "FastJet release" in (workdir / "results/test/logs/generate/qcd/chunk1.log").read_text()
    # skim -> match -> split, each artifact with its provenance
    results = workdir / "results" / "test"
    cutflow = json.loads((results / "skim" / "ttbar.cutflow.json").read_text())
    assert cutflow["cutflow"][0]["events"] == 1600 and cutflow["selected_events"] > 50
    assert json.loads((results / "skim" / "ttbar.parquet.meta.json").read_text())["inputs"].keys() == {
        "results/test/events/ttbar/chunk0.root", "results/test/events/ttbar/chunk1.root"}
    tables = json.loads((results / "matched" / "ttbar.matching.json").read_text())
    assert tables["events"]["matched"] > 0
    split = json.loads((results / "datasets" / "train.h5.meta.json").read_text())
    test_set = json.loads((results / "datasets" / "test.h5.meta.json").read_text())
    assert split["events"]["train"]["ttbar"]["matched"] > 0 and set(split["events"]["test_nominal"]) == {"ttbar"}
    assert "qcd" in test_set["events"] and test_set["events"]["ttbar"] == split["events"]["test_nominal"]["ttbar"]
    assert split["scaling"]["pt"][1] > split["scaling"]["pt"][0]
    # train -> predict (every model, every sample, the common format) and the ONNX export
    from analysis import assignments

    for model in ("saja", "saja_shape", "spanet"):
        history = json.loads((results / "models" / model / "history.json").read_text())
        assert history["epochs"] and (results / "models" / model / "model.pt.meta.json").exists()
        for sample in ("ttbar", "qcd"):
            table = assignments.read(results / "assignments" / model / f"{sample}.parquet")
            assert set(assignments.FIELDS) <= set(table.fields) and len(table) > 0
    for model in ("saja", "saja_shape", "spanet"):  # every network, its decoding inside: same assignments
        onnx_meta = json.loads((results / "models" / model / "model.onnx.meta.json").read_text())
        assert onnx_meta["events"] > 0 and onnx_meta["assignments_differing"] == 0
        assert onnx_meta["max_abs_probability_difference"] < 1e-4
    # baselines: chi^2 and the kinematic likelihood with its transfer functions
    transfer = json.loads((results / "baselines" / "transfer_functions.json").read_text())
    assert set(transfer) == {"b_barrel", "b_endcap", "light_barrel", "light_endcap"}
    for method in ("chi2_6", "chi2_7", "klfitter_6", "klfitter_7"):
        table = assignments.read(results / "assignments" / method / "ttbar.parquet")
        assert table.valid.to_numpy().mean() > 0.9 and len(table.probabilities[0]) == 0
    # evaluation: every method in the metrics and tables, every figure with provenance, the report
    metrics = json.loads((results / "metrics" / "metrics.json").read_text())
    methods = ["saja", "saja_shape", "spanet", "chi2_6", "chi2_7", "klfitter_6", "klfitter_7"]
    assert metrics["method_order"] == methods and set(metrics["methods"]) == set(methods)
    assert all(table_row(results / "metrics" / "tables.md", m, metrics) for m in methods)
    page = (results / "metrics" / "tables.html").read_text()  # what the report shows inline
    assert page.startswith("<!DOCTYPE html>") and all(f"<tr><td>{method_name(metrics, m)}</td>" in page
                                                      for m in methods)
    # the learning curve: its full-set point is the network itself, scored as the tables score it
    curve = json.loads((results / "metrics" / "learning_curve.json").read_text())
    points = {p["fraction"]: p for p in curve["networks"]["spanet"]}
    assert set(points) == {0.5, 1.0} and points[0.5]["train_events"] < points[1.0]["train_events"]
    inclusive = metrics["methods"]["spanet"]["correct_by_njets"]["inclusive"]
    assert (points[1.0]["correct"], points[1.0]["events"]) == (inclusive["fraction"], inclusive["events"])
    assert curve["baselines"]["chi2_7"]["correct"] == metrics["methods"]["chi2_7"]["correct_by_njets"]["inclusive"][
        "fraction"]
    from analysis.plotting.figures import FIGURES

    for name in (name for name, figure in FIGURES.items() if figure.study in ("ttbar", "learning_curve")):
        for ext in ("png", "pdf"):
            assert (results / "figures" / f"{name}.{ext}").stat().st_size > 1000
        assert (results / "figures" / f"{name}.png.meta.json").exists()
    # the q/g study: both taggers, every pT bin measured, every figure
    calibration = json.loads((results / "qg" / "calibration.json").read_text())
    assert calibration["data_has_truth"] and set(calibration["taggers"]) == {"transformer", "shapes"}
    assert calibration["taggers"]["shapes"]["performance"]["mc"]["auc"] > 0.6
    for tagger in calibration["taggers"].values():
        assert [b["pt"] for b in tagger["bins"]] == [[200, 300], [300, 600]]
        assert all("methods" in b for b in tagger["bins"])
    for name in (name for name, figure in FIGURES.items() if figure.study == "qg"):
        assert (results / "figures" / f"{name}.pdf").stat().st_size > 1000
        meta = json.loads((results / "figures" / f"{name}.png.meta.json").read_text())
        assert meta["stage"] == "figure" and list(meta["inputs"]) == ["results/test/qg/calibration.json"]
    report = snakemake(workdir, "--cores", "1", "--report", str(tmp_path / "report.html"))
    assert report.returncode == 0, report.stderr[-3000:]
    assert (tmp_path / "report.html").stat().st_size > 10000
    # nothing left to do on a second call
    again = snakemake(workdir, "--cores", "2", "--dry-run")
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.slow
def test_spanet_h5_training_sample_end_to_end(tmp_path, reco):
    """A SPANet-format dataset as the training sample: split by file roles (val hashed out of the
    train file), both networks, chi^2, the KLFitter-style fit with transfer functions from a
    Delphes sample of the config, the evaluation and every figure, without skim or match jobs
    for the dataset. Its files are our matched ttbar events, jets of the test file shuffled and
    some masses slightly negative."""
    import awkward as ak
    import numpy as np

    from analysis import assignments
    from analysis.evaluation.metrics import Events
    from analysis.events.generate import generate_chunk
    from analysis.events.pythia import GeneratorSettings
    from analysis.plotting.figures import FIGURES
    from analysis.stages.match import run_match
    from analysis.stages.skim import run_skim
    from analysis.topology import MATCHED

    from .conftest import files_config
    from .spanet_builders import from_matched, shuffled, write_spanet

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    delphes = inputs / "ttbar.root"
    generate_chunk(GeneratorSettings(process="ttbar_allhad", seed=31), reco, n_events=2000, first_event_number=0,
                   output=delphes, detector_seed=5, progress=False)
    loose = files_config(inputs, {"ttbar": delphes}, selection={"n_jets_pt_min": 30, "n_btag_min": 0, "ht_min": 0})
    run_skim(loose, {"files": [delphes]}, {"skim": inputs / "skim.parquet", "cutflow": inputs / "cutflow.json"},
             {"sample": "ttbar"})
    run_match(loose, {"skim": inputs / "skim.parquet"},
              {"matched": inputs / "matched.parquet", "tables": inputs / "matching.json"}, {"sample": "ttbar"})
    events = ak.from_parquet(inputs / "matched.parquet")
    jets, targets = from_matched(events, int(ak.max(ak.num(events.jets))))
    jets["mass"] = np.where(jets["MASK"] & (jets["mass"] < 3), -0.01, jets["mass"]).astype(np.float32)
    cut = len(targets) * 3 // 4
    write_spanet(inputs / "h5" / "train.h5", {k: v[:cut] for k, v in jets.items()}, targets[:cut])
    write_spanet(inputs / "h5" / "test.h5", *shuffled({k: v[cut:] for k, v in jets.items()}, targets[cut:],
                                                      np.random.default_rng(3)))

    cfg = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    cfg["samples"] = {"ttbar_h5": {"source": "spanet_h5", "label": "SPANet-format ttbar",
                                   "roles": {"train": [str(inputs / "h5" / "train.h5")],
                                             "test": [str(inputs / "h5" / "test.h5")]}}}
    cfg["generators"] = {"ttbar_tf": {"source": "files", "files": [str(delphes)], "cross_section_pb": 1.0,
                                      "generated_events": 2000, "label": "Delphes ttbar (transfer functions)"}}
    cfg["datasets"]["training_sample"] = "ttbar_h5"
    del cfg["models"]["saja_shape"], cfg["qg"]
    cfg["training"] = {"batch_size": 128, "max_epochs": 3, "early_stopping": 2}
    cfg["baselines"]["chi2"]["n_jets"] = [6]
    cfg["baselines"]["klfitter"].update(n_jets=[6], transfer_sample="ttbar_tf")
    path = tmp_path / "spanet.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = snakemake(tmp_path, "--cores", "2", configfile=path)
    assert result.returncode == 0, result.stderr[-3000:]

    results = tmp_path / "results" / "test"
    assert not (results / "skim" / "ttbar_h5.parquet").exists() and (results / "skim" / "ttbar_tf.parquet").exists()
    split = json.loads((results / "datasets" / "train.h5.meta.json").read_text())
    test_set = json.loads((results / "datasets" / "test.h5.meta.json").read_text())["events"]
    assert split["events"]["train"]["ttbar_h5"]["matched"] > 20 and split["events"]["val"]["ttbar_h5"]["matched"] > 0
    assert set(test_set) == {"ttbar_h5", "ttbar_tf"} and not split["jet_shapes"]
    report = split["spanet_h5"]["ttbar_h5"]
    assert report[str(inputs / "h5" / "test.h5")]["reordered_events"] > 0
    assert sum(r["negative_masses_set_to_zero"] for r in report.values()) > 0
    transfer = json.loads((results / "baselines" / "transfer_functions.json.meta.json").read_text())
    assert transfer["sample"] == "ttbar_tf"
    methods = ["saja", "spanet", "chi2_6", "klfitter_6"]
    for method in methods:
        table = assignments.read(results / "assignments" / method / "ttbar_h5.parquet")
        assert len(table) == sum(test_set["ttbar_h5"].values())
        assert set(ak.to_list(table.file)) == {"test.h5"}
    chi2 = Events.from_table(assignments.read(results / "assignments" / "chi2_6" / "ttbar_h5.parquet"))
    assert chi2.correct[chi2.category == MATCHED].mean() > 0.2  # the targets are the top decays' jets: chance is 1/90
    metrics = json.loads((results / "metrics" / "metrics.json").read_text())
    assert metrics["method_order"] == methods and metrics["main_samples"] == ["ttbar_h5"]
    assert metrics["reconstruction"]["unit_weight_samples"] == ["ttbar_h5"]
    assert all(table_row(results / "metrics" / "tables.md", m, metrics) for m in methods)
    for name in (name for name, figure in FIGURES.items() if figure.study == "ttbar"):
        assert (results / "figures" / f"{name}.png").stat().st_size > 1000
    study = json.loads((results / "generators" / "study.json").read_text())
    assert study["nominal"] == "ttbar_h5" and study["matched_fraction"] == {}
    assert "ttbar_tf" in study["methods"]["spanet"]["samples"]


@pytest.mark.parametrize("profile", ["local", "slurm", "htcondor"])
def test_profiles_dry_run(tmp_path, profile):
    result = snakemake(tmp_path, "--profile", str(REPO / "profiles" / profile), "--dry-run")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "generate" in result.stdout


@pytest.mark.parametrize("config_name", ["config.yaml", "paper.yaml", "tth.yaml"])
def test_default_and_paper_configs_build_their_dag(tmp_path, config_name):
    result = snakemake(tmp_path, "--dry-run", configfile=REPO / "config" / config_name)
    assert result.returncode == 0, result.stderr[-3000:]
    assert ("klfitter" in result.stdout) == (config_name != "tth.yaml")  # no t tbar H likelihood


def job_counts(dry_run: str) -> dict[str, int]:
    """Jobs per rule from the "Job stats" table of a snakemake dry run."""
    table = dry_run.split("Job stats:")[1].split("total")[0].splitlines()[3:]
    return {rule: int(count) for rule, count in (line.split() for line in table if line.strip())}


@pytest.mark.parametrize("overlay_name, rules, target", [
    ("qg.yaml", ("qg_samples", "qg_train", "qg_score", "qg_calibrate"), "results/default/qg/calibration.md"),
    ("learning_curve.yaml", ("train_fraction", "learning_curve"), "results/default/metrics/learning_curve.json"),
])
def test_each_overlay_adds_only_its_study_to_the_default_run(tmp_path, overlay_name, rules, target):
    """`--configfile config/config.yaml config/<overlay>` (make qg, make learning-curve): the default
    run's jobs and the overlay's chain; config.yaml alone (make run) has none of its jobs, and the
    overlay retrains none of the default run's networks."""
    default = snakemake(tmp_path, "--dry-run", configfile=REPO / "config" / "config.yaml")
    overlay = snakemake(tmp_path, str(REPO / "config" / overlay_name), "--dry-run",  # both after --configfile
                        configfile=REPO / "config" / "config.yaml")
    assert default.returncode == 0 and overlay.returncode == 0, overlay.stderr[-3000:]
    for rule in rules:
        assert f"rule {rule}:" not in default.stdout
        assert f"rule {rule}:" in overlay.stdout
    assert target in overlay.stdout and target not in default.stdout
    assert job_counts(default.stdout)["train"] == job_counts(overlay.stdout)["train"]


def test_bad_config_stops_before_any_job(tmp_path):
    bad = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    bad["samples"]["ttbar"]["shower"] = "herwig"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    result = snakemake(tmp_path, "--cores", "1", configfile=path)
    assert result.returncode != 0
    assert "herwig" in result.stderr and "shower" in result.stderr
    assert not (tmp_path / "results").exists()


def test_user_delphes_files_enter_every_stage(tmp_path, ttbar_file):
    """A `source: files` sample is vetted, skimmed, matched, put in the test set and assigned by
    every method, with nothing else changed."""
    cfg = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    cfg["samples"]["user"] = {"source": "files", "files": [str(ttbar_file)], "cross_section_pb": 230.0,
                              "generated_events": 1000, "label": "user Delphes files"}
    path = tmp_path / "user.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = snakemake(tmp_path, "--dry-run", configfile=path)
    assert result.returncode == 0, result.stderr[-3000:]
    for expected in ("results/test/events/user/check_input.json", "results/test/skim/user.parquet",
                     "results/test/matched/user.parquet", "results/test/assignments/saja/user.parquet",
                     "results/test/assignments/spanet/user.parquet", "results/test/assignments/chi2_7/user.parquet"):
        assert expected in result.stdout


def test_real_data_files_enter_the_qg_calibration(tmp_path, qcd_file):
    """Real data for the q/g calibration is a `source: files` sample under qg.samples: vetted,
    turned into dijets, scored and calibrated, and never skimmed as a ttbar sample."""
    cfg = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    cfg["qg"]["samples"]["data2016"] = {"source": "files", "files": [str(qcd_file)], "cross_section_pb": 1.0,
                                        "generated_events": 200, "label": "collision data"}
    cfg["qg"]["data"] = "data2016"
    path = tmp_path / "data.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = snakemake(tmp_path, "--dry-run", configfile=path)
    assert result.returncode == 0, result.stderr[-3000:]
    for expected in ("results/test/events/data2016/check_input.json", "results/test/qg/samples/data2016.h5",
                     "results/test/qg/calibration.json"):
        assert expected in result.stdout
    assert "results/test/skim/data2016.parquet" not in result.stdout
    assert "results/test/qg/samples/dijet_vincia.h5" not in result.stdout  # only the configured data sample


def test_the_heavy_rules_record_their_time_and_memory(tmp_path):
    """Every job of the heavy rules has a `benchmark:` file (snakemake's wall time, CPU time and
    peak memory) under results/{tag}/benchmarks/, one per job; the light rules have none."""
    result = snakemake(tmp_path, "--dry-run")
    assert result.returncode == 0, result.stderr[-3000:]
    benchmarks = {}
    for block in re.split(r"\n(?=rule \w+:\n)", result.stdout)[1:]:
        rule = re.match(r"rule (\w+):", block).group(1)
        found = re.search(r"^    benchmark: (\S+)$", block, re.M)
        benchmarks.setdefault(rule, []).append(found.group(1) if found else None)
    heavy = ("generate", "skim", "train", "train_fraction", "predict", "baseline", "qg_samples", "qg_train", "qg_score")
    for rule in heavy:
        paths = benchmarks[rule]
        assert all(p and p.startswith("results/test/benchmarks/") and p.endswith(".tsv") for p in paths), rule
        assert len(set(paths)) == len(paths), rule
    assert set(benchmarks["figure"]) == set(benchmarks["evaluate"]) == {None}


def test_the_spanet_official_overlay_imports_its_predictions_and_retrains_nothing(tmp_path):
    """config/spanet_official.yaml: without its prediction file the run stops before any job,
    naming the file and how to make it; with one, a dry run imports it and scores it like every
    method, and trains exactly what the default run trains."""
    overlay, default = str(REPO / "config" / "spanet_official.yaml"), REPO / "config" / "config.yaml"
    missing = snakemake(tmp_path, overlay, "--dry-run", configfile=default)
    assert missing.returncode != 0
    message = missing.stdout + missing.stderr
    assert "results/default/spanet_official/predictions.h5 does not exist" in message
    assert "make spanet-official" in message
    predictions = tmp_path / "results" / "default" / "spanet_official" / "predictions.h5"
    predictions.parent.mkdir(parents=True)
    predictions.write_bytes(b"")
    planned = snakemake(tmp_path, overlay, "--dry-run", configfile=default)
    assert planned.returncode == 0, planned.stderr[-3000:]
    assert job_counts(planned.stdout)["import_predictions"] == 1
    assert "results/default/assignments/spanet_official/ttbar.parquet" in planned.stdout
    alone = snakemake(tmp_path, "--dry-run", configfile=default)
    assert job_counts(planned.stdout)["train"] == job_counts(alone.stdout)["train"]


@pytest.mark.slow
def test_tth_end_to_end_on_its_tiny_config(tmp_path):
    """config/test_tth.yaml from scratch: t tbar H generated, selected (>= 8 jets), matched to 8
    partons, both networks trained with their Higgs class and head, the chi^2 with its Higgs
    width, with and without b-tags (never a higher minimum without: the tags only remove rows), no
    KLFitter-style job (the tables say why), the Higgs candidate mass and every figure."""
    import awkward as ak

    from analysis import assignments
    from analysis.core.training import load_checkpoint
    from analysis.plotting.figures import FIGURES

    config = REPO / "config" / "test_tth.yaml"
    result = snakemake(tmp_path, "--cores", "2", configfile=config)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "klfitter" not in result.stdout + result.stderr
    results = tmp_path / "results" / "test_tth"
    cutflow = json.loads((results / "skim" / "tth.cutflow.json").read_text())
    assert [row["cut"] for row in cutflow["cutflow"]][1] == ">= 8 jets with pT > 25 GeV"
    tables = json.loads((results / "matched" / "tth.matching.json").read_text())
    assert tables["slots"][-2:] == ["bh1", "bh2"] and tables["labels"][-2:] == ["H", "other"]
    assert tables["events"]["matched"] > 0 and tables["events"]["background"] == 0  # every event has t, tbar and H
    event_info = yaml.safe_load((results / "datasets" / "event_info.yaml").read_text())
    assert event_info["EVENT"]["h"] == ["b1", "b2"] and event_info["PERMUTATIONS"]["h"] == [["b1", "b2"]]
    for model in ("saja", "spanet"):
        saved = load_checkpoint(results / "models" / model / "model.pt")
        assert saved["topology"] == "config/topology/tth_allhad.yaml" and saved["classes"][-2:] == ["H", "other"]
        table = assignments.read(results / "assignments" / model / "tth.parquet")
        assert ak.to_numpy(table.assignment).shape[1] == 8
    widths = json.loads((results / "baselines" / "chi2_widths.json").read_text())
    assert 5 < widths["sigma_pairs"]["h"] < 40
    assert not (results / "assignments" / "klfitter_8").exists()
    aware, blind = (assignments.read(results / "assignments" / m / "tth.parquet") for m in ("chi2_8", "chi2_8_nobtag"))
    assert ak.all(blind.score <= aware.score * (1 + 1e-9))  # b-tags only remove rows from the minimisation
    assert ak.any(blind.score < aware.score)
    metrics = json.loads((results / "metrics" / "metrics.json").read_text())
    assert metrics["method_order"] == ["saja", "spanet", "chi2_8", "chi2_8_nobtag"]
    assert {"w", "top", "higgs"} <= set(metrics["reconstruction"])
    row = metrics["methods"]["chi2_8"]["spanet_table"][-1]
    assert row["n_jets"] == "all" and 0 <= row["complete_events"]["higgs_efficiency"] <= 1
    markdown = (results / "metrics" / "tables.md").read_text()
    assert "| N_jets 8 | N_jets 9 | N_jets 10 | N_jets >= 11 |" in markdown and "complete higgs eff." in markdown
    assert "KLFitter-style: not run (KLFitter has no likelihood for t tbar H" in markdown
    for name in (name for name, figure in FIGURES.items() if figure.study == "ttbar"):
        assert (results / "figures" / f"{name}.png").stat().st_size > 1000
