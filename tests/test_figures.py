"""The figure registry (analysis.plotting.figures) and the `figure` rule: every figure has a draw
function, a caption and one job of its own, and each job reads only what its figure draws."""
from __future__ import annotations

import re
import subprocess
import sys
from types import SimpleNamespace

import jinja2
import numpy as np
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


def test_labels_name_methods_and_samples_without_touching_provenance(test_config):
    """A network's `label:` names it in figures only: not a hyperparameter, and its training's
    config hash (what reruns it) is unchanged; a baseline is named by its kind and jet count."""
    raw = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    raw["models"]["saja"]["label"] = "SAJA (paper inputs)"
    labelled = configlib.from_dict(raw, where="test.yaml")
    assert labelled.method_label("saja") == "SAJA (paper inputs)" and test_config.method_label("saja") == "saja"
    assert "label" not in labelled.models["saja"].hyperparameters
    assert labelled.rule_config("train", model="saja") == test_config.rule_config("train", model="saja")
    labels = labelled.labels()
    assert labels["methods"]["klfitter_6"] == "KLFitter-style, 6 jets" and labels["methods"]["chi2_7"] == r"$\chi^2$, 7 jets"
    assert labels["samples"] == {name: sample.label for name, sample in labelled.samples.items()}
    assert set(labels["methods"]) == set(labelled.methods())


@pytest.mark.xdist_group("test_config_run")
def test_figures_show_the_configured_labels_and_their_numbers(test_config_run, test_config, drawn):
    """The data behind Figs. 5, 7 and 8 of the test run: metrics.json carries the display names,
    the legends show them (not config keys) in method order, Fig. 7's markers are the metrics'
    correct fractions, Fig. 8's axis needs no offset text under the CMS label, and Fig. 11's log
    axes carry no minor tick labels."""
    import json

    import numpy as np

    from analysis.evaluation.metrics import bin_label, jet_bins
    from analysis.topology import TOPOLOGY

    paper, figures = drawn
    metrics = json.loads((test_config_run / "results/test/metrics/metrics.json").read_text())
    assert metrics["labels"] == test_config.labels()
    expected = [metrics["labels"]["methods"][m] for m in metrics["method_order"]]
    paper.fig05_performance(metrics, "fig05", topology=TOPOLOGY)
    assert [t.get_text() for t in figures["fig05"].axes[0].get_legend().get_texts()] == expected
    paper.fig07_correct_vs_njets(metrics, "fig07", topology=TOPOLOGY)
    ax = figures["fig07"].axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == expected
    keys = [bin_label(low, high) for low, high in jet_bins(TOPOLOGY)]
    for container, method in zip(ax.containers, metrics["method_order"], strict=True):
        bins = metrics["methods"][method]["correct_by_njets"]
        drawn_y = np.asarray(container.lines[0].get_ydata(), dtype=float)  # an empty bin: null in JSON, NaN here
        np.testing.assert_allclose(drawn_y, np.asarray([bins[k]["fraction"] for k in keys], dtype=float))
    paper.fig08_masses(metrics, "fig08", topology=TOPOLOGY)
    for ax, name in zip(figures["fig08"].axes, ("w", "top"), strict=False):
        figures["fig08"].canvas.draw()
        assert ax.yaxis.get_offset_text().get_text() == ""
        h = metrics["reconstruction"][name]
        total = sum(np.asarray(h[g])[1:-1] for g in ("background", "unmatched", "wrong", "correct"))
        signal = sum(np.asarray(h[g])[1:-1] for g in ("unmatched", "wrong", "correct"))
        log = 0 < signal.max() < np.asarray(h["background"])[1:-1].max() / 20  # a log axis keeps the signal visible
        assert ax.get_yscale() == ("log" if log else "linear")
        power = int(np.floor(np.log10(total.max()))) if total.max() >= 1e4 and not log else 0
        assert ax.get_ylim()[1] >= total.max() / 10.0**power and (f"10^{{{power}}}" in ax.get_ylabel()) == bool(power)
    paper.fig11_entropy(metrics, "fig11", topology=TOPOLOGY)  # log axes labelled at decades only: minor labels used to collide
    figures["fig11"].canvas.draw()
    for ax in figures["fig11"].axes:
        assert ax.get_yscale() == "log" and not any(t.get_text() for t in ax.yaxis.get_minorticklabels())


@pytest.mark.xdist_group("test_config_run")
def test_attention_figure_says_when_a_model_has_no_event(test_config_run, drawn):
    """Fig. 12 keeps a row per SAJA model and says so when a model has no correctly assigned
    matched test event to average over (the test run's tiny models have none; the figure used to
    be blank, or fail to draw)."""
    import json

    from analysis.topology import TOPOLOGY

    paper, figures = drawn
    attention = {}
    for path in sorted((test_config_run / "results/test/metrics").glob("attention_*.json")):
        if path.name.endswith(".meta.json"):
            continue
        a = json.loads(path.read_text())
        attention[a["model"]] = a
    assert set(attention) == {"saja", "saja_shape"}
    paper.fig12_attention(attention, "fig12", topology=TOPOLOGY)
    texts = [t.get_text() for ax in figures["fig12"].axes for t in ax.texts]
    for a in attention.values():
        assert any(t.startswith(f"{a['label']}: no correctly assigned") for t in texts) == (not a["blocks"])
    images = sum(bool(ax.images) for ax in figures["fig12"].axes)
    assert images == sum(len(a["blocks"]) for a in attention.values())


@pytest.mark.xdist_group("test_config_run")
def test_transfer_function_panels_name_the_jets_their_fit_used(test_config_run):
    """Each panel's title says which jets its category's fit pooled (the JSON's `jets_from`) and
    how many; a category with too few jets of its own must not read as if fitted on them."""
    import json

    from analysis.plotting.transfer_functions import panel_title

    fitted = json.loads((test_config_run / "results/test/baselines/transfer_functions.json").read_text())
    for name, fit in fitted.items():
        title = panel_title(name, fit)
        assert title.endswith(f"({fit['pairs']} jets)")
        assert ("fitted on" in title) == (fit["jets_from"] != "own")
    assert panel_title("b_barrel", {"jets_from": "all", "pairs": 102}) == "b jets, barrel: fitted on all jets (102 jets)"


def test_report_tables_are_html_pages_of_the_markdown_tables():
    """The report shows tables inline only as HTML: the page holds every cell of the Markdown
    table, in order, escaped, with the bold caption and notes, and nothing of the pipe syntax."""
    from analysis.core.tables import html_page, table

    rows = [["saja", "42.8 +1.6 -1.6"], ["chi2_7", "**43.0 <best>**"]]
    markdown = table(["method", "all"], rows, "md", "Correct assignments") + "\nEach cell: **value** (pull).\n"
    page = html_page(markdown, "default: metrics")
    assert page.startswith("<!DOCTYPE html>") and "<title>default: metrics</title>" in page
    assert "<p><strong>Correct assignments</strong></p>" in page and "|" not in page.split("<body>")[1]
    assert "<thead><tr><th>method</th><th>all</th></tr></thead>" in page
    assert ("<tr><td>saja</td><td>42.8 +1.6 -1.6</td></tr><tr><td>chi2_7</td>"
            "<td><strong>43.0 &lt;best&gt;</strong></td></tr>") in page
    assert "<p>Each cell: <strong>value</strong> (pull).</p>" in page


def _drawn_learning_curve(curve: dict, tmp_path, monkeypatch):
    """The learning-curve figure of `curve`, kept open instead of saved: its axes."""
    from analysis.plotting import learning_curve as module

    drawn = {}
    monkeypatch.setattr(module, "save", lambda fig, paths: drawn.setdefault("fig", fig))
    module.learning_curve(curve, tmp_path / "lc.png")
    return drawn["fig"].axes[0]


def test_learning_curve_is_labelled_at_its_training_set_sizes_only(tmp_path, monkeypatch):
    """Over less than a decade of training events matplotlib would label every minor tick of the
    log axis (6000, 7000, ...) into one another; the axis names the measured sizes instead."""
    point = {"correct": 0.4, "low": 0.38, "high": 0.42, "events": 920}
    curve = {"sample": "ttbar", "baselines": {"chi2_7": {**point}},
             "labels": {"methods": {"saja": "SAJA", "chi2_7": "chi2, 7 jets"}, "samples": {"ttbar": "Pythia 8"}},
             "networks": {"saja": [{**point, "train_events": n} for n in (2847, 5694, 11389)]}}
    ax = _drawn_learning_curve(curve, tmp_path, monkeypatch)
    ax.figure.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2847", "5694", "11389"]
    assert all(not t.get_text() for t in ax.get_xticklabels(minor=True))
    # the legend and title name the config's labels (the json's labels are metrics.json's)
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["SAJA", "chi2, 7 jets"]
    assert ax.get_legend().get_title().get_text().startswith("Pythia 8, 920")
    assert ax.get_ylim() == pytest.approx((0, 0.63))  # up to 1.5 x the highest error bar


def test_learning_curve_colours_every_method_apart(tmp_path, monkeypatch):
    """Baselines drawn from a palette of their own once gave chi^2 (9 jets) SPA-NET's orange."""
    from matplotlib.colors import to_rgb

    point = {"correct": 0.2, "low": 0.19, "high": 0.21, "events": 1785}
    curve = {"sample": "tth", "baselines": {"chi2_8": point, "chi2_9": point}, "labels": {},
             "networks": {name: [{**point, "train_events": n} for n in (8547, 34188)] for name in ("saja", "spanet")}}
    ax = _drawn_learning_curve(curve, tmp_path, monkeypatch)
    colours = [to_rgb(c.lines[0].get_color()) for c in ax.containers]
    colours += [to_rgb(line.get_color()) for line in ax.get_lines() if line.get_label() in curve["baselines"]]
    assert len(colours) == 4
    assert min(np.linalg.norm(np.subtract(a, b)) for i, a in enumerate(colours) for b in colours[:i]) > 0.3


def test_method_colours_stay_distinct_beyond_ten_methods():
    """With the overlays a default run has twelve methods: tab10 would give two of them one colour."""
    from analysis.plotting.paper import method_colours

    for n in (4, 12, 20):
        colours = method_colours([f"m{i}" for i in range(n)])
        assert len(set(colours.values())) == n
