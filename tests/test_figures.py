"""The figure registry (analysis.plotting.figures) and the `figure` rule: every figure has a draw
function, a caption and one job of its own, and each job reads only what its figure draws."""
from __future__ import annotations

import re
import subprocess
import sys
from types import SimpleNamespace

import jinja2
import pytest
import yaml

from analysis import config as configlib
from analysis import paths
from analysis.config import SCHEMA
from analysis.config.schema import read_yaml, validate
from analysis.plotting.figures import FIGURES, READS, STUDY_CONFIG

from .conftest import REPO, SNAKEMAKE
from .test_workflow import ENV

CAPTIONS = REPO / "workflow" / "report" / "figure.rst"


@pytest.fixture(scope="module")
def figure_jobs(tmp_path_factory) -> dict[str, dict[str, str]]:
    """The `figure` jobs of a dry run of config/test.yaml: figure name -> {input, output, ...}."""
    workdir = tmp_path_factory.mktemp("figure_jobs")
    result = subprocess.run([SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
                             "--configfile", str(REPO / "config" / "test.yaml"), "--dry-run"],
                            capture_output=True, text=True, env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = {}
    for block in re.split(r"\n(?=rule \w+:\n)", result.stdout)[1:]:
        if block.startswith("rule figure:"):
            job = dict(re.findall(r"^    (\w+): (.*)$", block, re.M))
            jobs[job["wildcards"].removeprefix("figure=")] = job
    return jobs


def test_every_figure_has_a_draw_function_and_known_inputs():
    for name, figure in FIGURES.items():
        assert callable(figure.function()), name
        assert figure.reads in READS and figure.study in STUDY_CONFIG, name


def test_the_registry_imports_no_matplotlib():
    """The Snakefile reads the registry (through analysis.paths) at every call, dry runs included."""
    code = "import sys, analysis.paths, analysis.plotting.figures; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


def test_one_figure_job_per_figure_with_its_png_and_pdf(figure_jobs):
    assert sorted(figure_jobs) == sorted(FIGURES)
    for name, job in figure_jobs.items():
        assert job["output"] == f"{paths.figure_file('test', name)}, {paths.figure_file('test', name, 'pdf')}"


def test_a_figure_job_reads_only_what_its_figure_draws(figure_jobs):
    inputs = {name: job["input"].split(", ") for name, job in figure_jobs.items()}
    assert inputs["fig05_performance"] == inputs["fig08_masses"] == ["results/test/metrics/metrics.json"]
    assert inputs["fig02_matched_fraction"] == [f"results/test/matched/{s}.matching.json"
                                                for s in ("ttbar", "qcd", "ttbar_a14")]
    assert inputs["fig12_attention"] == [f"results/test/metrics/attention_{m}.json" for m in ("saja", "saja_shape")]
    assert inputs["fig13_latency"] == paths.benchmark_results()
    assert inputs["qg_roc"] == ["results/test/qg/calibration.json"]
    for name, figure in FIGURES.items():
        assert len(inputs[name]) == 1 or figure.reads in ("matching_tables", "attention", "benchmarks"), name


def test_the_qg_and_learning_curve_figures_exist_only_with_their_study(tmp_path):
    raw = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    del raw["qg"]
    raw["evaluation"]["learning_curve"]["models"] = []
    names = paths.figures(configlib.from_dict(raw, where=str(tmp_path / "config.yaml")))
    assert names == [name for name, figure in FIGURES.items() if figure.study == "ttbar"]


def test_learning_curve_models_must_be_networks(tmp_path):
    raw = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    raw["evaluation"]["learning_curve"]["models"] = ["chi2_7"]
    with pytest.raises(configlib.ConfigError, match="learning_curve.models.*not networks"):
        configlib.from_dict(raw, where=str(tmp_path / "config.yaml"))


def test_every_figure_has_its_own_caption():
    """workflow/report/figure.rst (the rule's one caption file) has one block per figure, and each
    renders, as snakemake's report renders it, to a caption of its own."""
    text = CAPTIONS.read_text()
    blocks = re.findall(r'{% (?:el)?if figure == "(\w+)" %}', text)
    assert sorted(blocks) == sorted(FIGURES)
    template = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined
                                  ).from_string(text)
    document = read_yaml(REPO / "config" / "test.yaml")
    validate(document, SCHEMA, "config/test.yaml")  # snakemake's config: the file with the schema's defaults
    captions = {name: template.render(snakemake=SimpleNamespace(config=document,
                                                                wildcards=SimpleNamespace(figure=name))).strip()
                for name in FIGURES}
    assert all(captions.values()) and len(set(captions.values())) == len(FIGURES)
    assert captions["fig08_masses"].startswith("Paper Fig. 8") and "spanet" in captions["fig08_masses"]
