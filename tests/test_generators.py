"""The generator-dependence study: differences and their errors, a sample added under
`generators:` reaching every output, and two seeds of one shower agreeing within statistics."""
from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import yaml

from analysis.config import ConfigError, from_dict
from analysis.datasets import build_table
from analysis.evaluation import generators, metrics
from analysis.events.generate import generate_chunk
from analysis.events.pythia import GeneratorSettings
from analysis.methods.chi2 import Chi2Settings, best_assignment
from analysis.stages.match import run_match
from analysis.stages.skim import run_skim
from analysis.topology import MATCHED

from .conftest import REPO, files_config
from .test_workflow import snakemake


def test_difference_of_independent_fractions():
    d = generators.difference({"fraction": 0.30, "error": 0.03}, {"fraction": 0.34, "error": 0.04})
    assert d["difference"] == pytest.approx(-0.04) and d["difference_error"] == pytest.approx(0.05)
    assert d["pull"] == pytest.approx(-0.8)


def test_generators_join_the_samples_and_may_not_reuse_a_name():
    raw = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    raw["generators"] = {"ttbar_vincia": {"source": "generate", "process": "ttbar_allhad", "shower": "vincia",
                                          "events": 100, "chunks": 1}}
    cfg = from_dict(raw)
    assert "ttbar_vincia" in cfg.samples and cfg.generators() == ["ttbar", "ttbar_vincia"]
    raw["generators"] = {"qcd": raw["samples"]["qcd"]}
    with pytest.raises(ConfigError, match="qcd"):
        from_dict(raw)


def test_a_sample_under_generators_reaches_every_output(tmp_path):
    raw = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    raw["generators"]["ttbar_extra"] = {"source": "generate", "process": "ttbar_allhad", "tune": 21, "events": 100,
                                        "chunks": 1}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = snakemake(tmp_path, "--dry-run", configfile=path)
    assert result.returncode == 0, result.stderr[-3000:]
    for output in ("results/test/events/ttbar_extra/chunk0.root", "results/test/matched/ttbar_extra.matching.json",
                   "results/test/assignments/saja/ttbar_extra.parquet",
                   "results/test/assignments/klfitter_7/ttbar_extra.parquet", "results/test/generators/study.md"):
        assert output in result.stdout


def _sample_summary(cfg, name, path, directory):
    skim, cutflow = directory / f"{name}.parquet", directory / f"{name}.cutflow.json"
    matched, tables = directory / f"{name}.matched.parquet", directory / f"{name}.matching.json"
    run_skim(cfg, {"files": [path]}, {"skim": skim, "cutflow": cutflow}, {"sample": name})
    run_match(cfg, {"skim": skim}, {"matched": matched, "tables": tables}, {"sample": name})
    import json

    table = json.loads(tables.read_text())
    events = ak.from_parquet(matched)
    t = build_table(events[events.category == MATCHED], 0, 20, shapes=False)
    n_real = t.inputs["MASK"].sum(axis=1)
    slots, _ = best_assignment(t.inputs["pt"], t.inputs["eta"], t.inputs["phi"], t.inputs["mass"], t.inputs["btag"],
                               n_real, Chi2Settings(sigma_top=14.0, sigma_w=8.2, n_jets=7))
    correct = metrics.fraction(metrics.correct(slots, t.targets) if len(slots) else np.zeros(0, bool))
    return generators.matched_fraction(table), {"fraction": correct[0], "error": (correct[2] - correct[1]) / 2}


@pytest.mark.xdist_group("pipeline")
def test_two_seeds_of_one_shower_agree_within_statistics(pipeline, reco, tmp_path):
    """The study must not invent differences: the pipeline's ttbar sample against the same
    process with another seed, through skim, matching and chi^2."""
    other = tmp_path / "ttbar_seed2.root"
    generate_chunk(GeneratorSettings(process="ttbar_allhad", seed=2025), reco, n_events=3000, first_event_number=0,
                   output=other, detector_seed=12, progress=False)
    cfg = files_config(tmp_path, {"ttbar": pipeline.files["ttbar"], "ttbar_seed2": other})
    first = _sample_summary(cfg, "ttbar", pipeline.files["ttbar"], tmp_path)
    second = _sample_summary(cfg, "ttbar_seed2", other, tmp_path)
    for a, b in zip(second, first, strict=True):
        assert abs(generators.difference(a, b)["pull"]) < generators.PULL_LIMIT
