"""The rules of workflow/rules/evaluate.smk: each method's metrics apart (`method_metrics`), the
Fig. 8 masses (`reconstruction`), both merged into metrics.json and the tables (`evaluate`); the
SAJA attention maps (`attention`), the generator study (`generator_study`) and every figure, one
job each (`figure`)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from analysis import assignments
from analysis.config import Config
from analysis.core.provenance import stage_run, write_json, write_text
from analysis.core.tables import html_page
from analysis.evaluation import generators, summary
from analysis.evaluation.attention import average, block_attention, folded, order
from analysis.methods.networks import load_inputs, load_model, predict
from analysis.plotting.figures import FIGURES, STUDY_CONFIG
from analysis.stages._common import Files
from analysis.topology import MATCHED


def _read(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def run_method_metrics(cfg: Config, input: Files, output: Files, wildcards: Files) -> dict:
    """Everything the tables and figures show of method `wildcards["method"]`, from its
    assignment files (`input["assignments"]`, one per sample of the config, in its order) and the
    test set's b tags (`input["test"]`) ->
    `output["metrics"]`: metrics.json's entry of that method."""
    method = wildcards["method"]
    files = dict(zip(cfg.samples, input["assignments"], strict=True))
    with stage_run(cfg.tag, "method_metrics", cfg.rule_config("method_metrics", model=method), [output["metrics"]],
                   inputs=[*files.values(), input["test"]]) as run:
        events = summary.load_method(files, cfg.topology)
        result = summary.method_metrics(events, summary.score_name(cfg, method), summary.main_samples(cfg),
                                        summary.evaluation_btags(input["test"], list(cfg.samples), events))
        write_json(output["metrics"], result)
        run.extra = {"method": method}
    return result


def run_reconstruction(cfg: Config, input: Files, output: Files, wildcards: Files) -> dict:
    """The Fig. 8 candidate masses (W, top; H of t tbar H) of `evaluation.reconstruction.method`, from its assignment
    files (`input["assignments"]`, per sample of the config), the test set's jets (`input["test"]`)
    and the cutflows' cross-sections (`input["cutflows"]`, per `cfg.matched_samples()`) ->
    `output["reconstruction"]`: metrics.json's `reconstruction`."""
    files = dict(zip(cfg.samples, input["assignments"], strict=True))
    cutflows = dict(zip(cfg.matched_samples(), input["cutflows"], strict=True))
    with stage_run(cfg.tag, "reconstruction", cfg.rule_config("reconstruction"), [output["reconstruction"]],
                   inputs=[*files.values(), input["test"], *cutflows.values()]):
        result = summary.mass_reconstruction(cfg, summary.load_method(files, cfg.topology), input["test"], cutflows)
        write_json(output["reconstruction"], result)
    return result


def run_evaluate(cfg: Config, input: Files, output: Files, wildcards: Files) -> dict:
    """metrics.json (`output["metrics"]`): the methods' metrics (`input["methods"]`, one file per
    method of `cfg.methods()`, in its order) and the reconstruction (`input["reconstruction"]`);
    and the headline tables (`output["md"]`, `output["tex"]`, `output["html"]`), which say which
    baselines the topology does not run (`cfg.baselines.not_run`)."""
    tables = {fmt: output[fmt] for fmt in ("md", "tex", "html")}
    method_files = dict(zip(cfg.methods(), input["methods"], strict=True))
    with stage_run(cfg.tag, "evaluate", cfg.stage_config("evaluate"), [output["metrics"], *tables.values()],
                   inputs=[*method_files.values(), input["reconstruction"]]):
        result = {"methods": {method: _read(path) for method, path in method_files.items()},
                  "method_order": list(method_files), "samples": list(cfg.samples),
                  "main_samples": summary.main_samples(cfg), "luminosity_fb": cfg.evaluation.luminosity_fb,
                  "labels": cfg.labels(), "reconstruction": _read(input["reconstruction"])}
        write_json(output["metrics"], result)
        rendered = {fmt: summary.render_table(result, fmt, cfg.topology, cfg.baselines.not_run,
                                              cfg.datasets.training_sample) for fmt in ("md", "tex")}
        write_text(tables["md"], rendered["md"])
        write_text(tables["tex"], rendered["tex"])
        write_text(tables["html"], html_page(rendered["md"], f"{cfg.tag}: metrics"))
    return result


def run_attention(cfg: Config, input: Files, output: Files, wildcards: Files) -> dict:
    """Each block's average attention of SAJA model `wildcards["model"]` (`input["model"]`) on the
    correctly assigned matched test events (`input["test"]`) -> `output["attention"]` (Fig. 12)."""
    name, model_path, test_path = wildcards["model"], input["model"], input["test"]
    with stage_run(cfg.tag, "attention", cfg.rule_config("attention", model=name), [output["attention"]],
                   inputs=[model_path, test_path]) as run:
        model, saved = load_model(model_path)
        data = load_inputs(test_path, model)
        slots, valid, _, _ = predict(model, saved["architecture"], data["x"], data["mask"], data["jet_pt"])
        chosen = (data["category"] == MATCHED) & valid & assignments.correct(slots, data["targets"], cfg.topology)
        x, mask, targets = data["x"][chosen], data["mask"][chosen], data["targets"][chosen]
        matrices = [average(folded(w, targets, mask), mask.sum(axis=1) > len(cfg.topology.slots)).tolist() for w in
                    block_attention(model, saved["architecture"], x, mask)] if len(targets) else []
        result = {"model": name, "label": cfg.method_label(name), "order": list(order(cfg.topology)),
                  "events": int(chosen.sum()), "blocks": matrices}
        write_json(output["attention"], result)
        run.extra = {"events": result["events"]}
    return result


def run_learning_curve(cfg: Config, input: Files, output: Files, wildcards: Files) -> dict:
    """The learning curve: each network of `evaluation.learning_curve` trained on fractions of its
    training events (`input["models"]`, in the order of analysis.paths.learning_curve_models),
    scored like the tables' inclusive column (correct assignments among the matched test events
    of the training sample, with its Clopper-Pearson interval) on `input["test"]`, with the
    baselines' same number from their metrics (`input["baselines"]`) -> `output["curve"]`."""
    from analysis import paths
    from analysis.evaluation.metrics import fraction

    models = dict(zip(paths.learning_curve_models(cfg), input["models"], strict=True))
    baselines = dict(zip(cfg.baseline_methods(), input["baselines"], strict=True))
    with stage_run(cfg.tag, "learning_curve", cfg.rule_config("learning_curve"), [output["curve"]],
                   inputs=[*models.values(), input["test"], *baselines.values()]):
        curve: dict[str, list[dict]] = {}
        for key, model_path in models.items():
            name, share = key.rsplit("/", 1)
            model, saved = load_model(model_path)
            data = load_inputs(input["test"], model)
            slots, valid, _, _ = predict(model, saved["architecture"], data["x"], data["mask"], data["jet_pt"])
            rows = (data["sample"] == data["samples"].index(cfg.datasets.training_sample)) & (data["category"] == MATCHED)
            right = valid[rows] & assignments.correct(slots[rows], data["targets"][rows], cfg.topology)
            f, low, high = fraction(right)
            curve.setdefault(name, []).append({"fraction": float(share), "train_events": saved["train_events"],
                                               "correct": f, "low": low, "high": high, "events": int(rows.sum())})
        lines = {}
        for method, path in baselines.items():
            inclusive = _read(path)["correct_by_njets"]["inclusive"]
            lines[method] = {"correct": inclusive["fraction"], "low": inclusive["low"], "high": inclusive["high"],
                             "events": inclusive["events"]}
        result = {"sample": cfg.datasets.training_sample, "networks": curve, "baselines": lines,
                  "labels": cfg.labels()}
        write_json(output["curve"], result)
    return result


def run_generator_study(cfg: Config, input: Files, output: Files, wildcards: Files) -> dict:
    """The generator-dependence study from metrics.json (`input["metrics"]`) and the matching
    tables of the generator samples that have them (`input["tables"]`) -> `output["json"]` and
    its table `output["md"]`."""
    table_paths = list(input["tables"])
    with stage_run(cfg.tag, "generator_study", cfg.stage_config("evaluate"), [output["json"], output["md"], output["html"]],
                   inputs=[input["metrics"], *table_paths]):
        tables = {table["sample"]: table for table in map(_read, table_paths)}
        result = generators.study(cfg, _read(input["metrics"]), tables)
        write_json(output["json"], result)
        markdown = generators.render(result)
        write_text(output["md"], markdown)
        write_text(output["html"], html_page(markdown, f"{cfg.tag}: generator study"))
    return result


def run_figure(cfg: Config, input: Files, output: Files, wildcards: Files) -> None:
    """Figure `wildcards["figure"]`: its FIGURES entry's function draws what the entry reads
    (`input[entry.reads]`) to `output["png"]` and `output["pdf"]`, given the run's topology when
    the entry says it names slots, classes, resonances or N_jets bins (`entry.topology`)."""
    figure = FIGURES[wildcards["figure"]]
    files = input[figure.reads]
    paths = [output["png"], output["pdf"]]
    with stage_run(cfg.tag, "figure", cfg.rule_config(STUDY_CONFIG[figure.study]), paths,
                   inputs=[files] if isinstance(files, str | Path) else list(files)):
        extra = ({"no_matching": list(cfg.spanet_samples()), "labels": cfg.labels()["samples"]}
                 if figure.reads == "matching_tables" else {})
        if figure.topology:
            extra["topology"] = cfg.topology
        figure.function()(figure_data(figure.reads, files), paths, **extra)


def figure_data(reads: str, files: str | Path | list[str]) -> Any:
    """What a figure reads (analysis.plotting.figures.READS), loaded: one JSON, or the JSONs of a
    set keyed by their sample, model or benchmark name."""
    if reads == "matching_tables":
        return {table["sample"]: table for table in map(_read, files)}
    if reads == "attention":
        return {attention["model"]: attention for attention in map(_read, files)}
    if reads == "benchmarks":
        return {Path(path).stem: _read(path) for path in files}
    return _read(files)

