"""The evaluation's summaries: one method's metrics from its assignment files, the Fig. 8 mass
reconstruction from one method's assignments, and the headline tables of them all.

They read only the assignment files, the test dataset (jet kinematics for the masses) and the
cutflows (cross-sections; the config's for SPANet-format datasets, which have no cutflow), so a
method added to the config appears everywhere by itself. The stages (analysis.stages.evaluate)
compute each method apart and merge them into metrics.json.
"""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import awkward as ak
import numpy as np

from analysis import assignments, datasets, methods
from analysis.config import Config
from analysis.core.tables import table
from analysis.evaluation import metrics, reconstruction
from analysis.topology import Topology

log = logging.getLogger(__name__)
ENTROPY_BINS = 50
TEX_ESCAPE = str.maketrans({"_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#", "^": r"\^{}"})
"""LaTeX's special characters in the text lines of tables.tex (the tables escape their own cells)."""


def load_method(files: dict[str, str | Path], topology: Topology) -> metrics.Events:
    """One method's assignments of every sample, concatenated in sample order, as slots of the
    run's topology."""
    return metrics.Events.from_table(ak.concatenate([assignments.read(files[s]) for s in files]), topology)


def score_name(cfg: Config, method: str) -> str:
    return methods.get(cfg.method_kind(method)).score_name


def method_metrics(all_events: metrics.Events, score: str, main_samples: list[str],
                   n_btags: np.ndarray | None = None) -> dict:
    """Everything the tables and figures show of one method, whose score is called `score`: on
    the evaluation events of `main_samples` (the nominal ttbar and the backgrounds, not the
    generator study's alternatives), and per ttbar sample (the generator study). With the events'
    b-tagged jet counts `n_btags`, also the SPANet talk's table on the events with at least one
    b tag per b quark of the topology (`btag_table`) and the correct fraction per number of
    b-tagged jets."""
    main = np.isin(all_events.sample, main_samples)
    events = all_events.select(main)
    groups = metrics.score_groups(events)
    finite = np.concatenate([g[np.isfinite(g)] for g in groups.values()])
    top = float(np.quantile(finite, 0.995)) if len(finite) else 1.0
    edges = np.linspace(0.0 if events.has_probabilities else float(finite.min(initial=0.0)), top, ENTROPY_BINS + 1)
    out = {"correct_by_njets": metrics.correct_by_njets(events), "spanet_table": metrics.spanet_table(events),
           "performance_curve": metrics.performance_curve(events), "network": events.has_probabilities,
           "score_name": score, "valid_fraction": {name: metrics.fraction(events.valid[events.category == i])[0]
                                                   for i, name in enumerate(metrics.CATEGORIES)},
           "score_distributions": score_histograms(groups, edges), "per_sample": {}}
    for sample in np.unique(all_events.sample[all_events.category == metrics.MATCHED]):
        own = all_events.select(all_events.sample == sample)
        out["per_sample"][str(sample)] = {"performance_curve": metrics.performance_curve(own),
                                          "correct_by_njets": metrics.correct_by_njets(own),
                                          "score_distributions": score_histograms(metrics.score_groups(own), edges)}
    if n_btags is not None:
        out["spanet_table_btag"] = btag_table(events, n_btags[main])
        out["correct_by_nbtags"] = metrics.correct_by_nbtags(events, n_btags[main])
    if events.has_probabilities:
        out["valid_vs_threshold"] = metrics.valid_vs_threshold(events, edges)
        out["confusion"] = metrics.confusion_matrix(events).tolist()
    return out


def btag_table(events: metrics.Events, n_btags: np.ndarray) -> dict:
    """The SPANet talk's table on the events with as many b-tagged jets as the topology has b
    quarks (4 for t tbar H, 2 for t tbar): how the talk evaluates t tbar H ("evaluated on >= 4b-jet
    events for consistency with chi^2", networks trained on >= 2), where a b-tag aware chi^2 has a
    tagged jet for each of its b slots."""
    btag_min = len(events.topology.b_slots)
    return {"btag_min": btag_min, "rows": metrics.spanet_table(events.select(n_btags >= btag_min))}


def score_histograms(groups: dict[str, np.ndarray], edges: np.ndarray) -> dict:
    """Counts per score group on `edges`, scores beyond them in the end bins."""
    return {"edges": edges.tolist(), **{name: np.histogram(np.clip(g, edges[0], edges[-1]), edges)[0].tolist()
                                        for name, g in groups.items()}}


def selected_cross_sections(cutflows: dict[str, str | Path]) -> dict[str, float]:
    """Cross-section after the full selection, per sample, from its cutflow."""
    return {sample: json.loads(Path(path).read_text())["cutflow"][-1]["cross_section_pb"]
            for sample, path in cutflows.items()}


def sample_cross_sections(cfg: Config, samples: list[str], cutflows: dict[str, str | Path]) -> dict[str, float | None]:
    """Selected cross-section per sample: from the cutflow of a Delphes sample, from the config for
    a SPANet-format dataset (its files are the selection), None where the config gives none."""
    spanet = cfg.spanet_samples()
    out = selected_cross_sections({s: cutflows[s] for s in samples if s not in spanet})
    out.update({s: spanet[s].cross_section_pb for s in samples if s in spanet})
    return out


def evaluation_jets(test_path: str | Path, samples: list[str], events: metrics.Events,
                    features: tuple[str, ...] = ("pt", "eta", "phi", "mass")) -> dict[str, np.ndarray]:
    """Raw jet `features` of the test set (padding 0) in the order of the assignment files
    (sample by sample), checked against their event numbers."""
    data = datasets.load(test_path, features, scaled=False)
    order = np.concatenate([np.flatnonzero(data["sample"] == data["samples"].index(s)) for s in samples])
    if len(order) != len(events) or not np.array_equal(data["event"][order], events.event):
        raise ValueError(f"{test_path}: the assignment files do not list the test set's events in its order; "
                         "rerun the methods' rules (their outputs are older than the dataset)")
    return {name: data["x"][order][..., i] for i, name in enumerate(features)}


def evaluation_btags(test_path: str | Path, samples: list[str], events: metrics.Events) -> np.ndarray:
    """The number of b-tagged jets of each event of `events` (`evaluation_jets`' order)."""
    return (evaluation_jets(test_path, samples, events, ("btag",))["btag"] > 0.5).sum(axis=1)


def main_samples(cfg: Config) -> list[str]:
    """The samples of the headline metrics and of Fig. 8: all but the generator alternatives."""
    alternatives = set(cfg.generators()[1:])
    return [s for s in cfg.samples if s not in alternatives]


def mass_reconstruction(cfg: Config, events: metrics.Events, test_path: str | Path,
                        cutflows: dict[str, str | Path]) -> dict:
    """The candidate masses (Fig. 8: W and top, and the Higgs's b b for t tbar H) of
    `evaluation.reconstruction.method`, whose assignments of every sample are `events`, after its
    score cut, weighted to the luminosity."""
    spec = cfg.evaluation.reconstruction
    method = spec.method
    samples, main = list(cfg.samples), main_samples(cfg)
    jets = evaluation_jets(test_path, samples, events)
    keep = np.isin(events.sample, main)
    events, jets = events.select(keep), {name: values[keep] for name, values in jets.items()}
    cut = reconstruction.score_cut(events, spec.score_cut, spec.efficiency)
    warning = None
    if cut is None:
        warning = (f"{method}: no matched ttbar event has a valid assignment, so no score cut keeps "
                   f"{spec.efficiency} of them; the mass histograms are empty")
        log.warning(warning)
        cut = -np.inf
    luminosity_pb = cfg.evaluation.luminosity_fb * 1000.0
    cross_sections = sample_cross_sections(cfg, main, cutflows)
    unit_weights = [s for s, value in cross_sections.items() if value is None]
    if unit_weights:
        log.warning("no cross-section for %s: the Fig. 8 masses count the evaluation events of every sample",
                    unit_weights)
        weights = np.ones(len(events))
    else:
        weights = reconstruction.yields(events, cross_sections, luminosity_pb)
    histograms = reconstruction.mass_histograms(events, jets, weights, cut)
    out = {"method": method, "score_cut": cut, "warning": warning, "unit_weight_samples": unit_weights,
           "yields_before_cut": {s: float(weights[events.sample == s].sum()) for s in main}}
    for name, h in histograms.items():
        out[name] = {"edges": h.axes[0].edges.tolist(),
                     **{g: h[:, g].values(flow=True).tolist() for g in reconstruction.GROUPS},
                     "variances": {g: h[:, g].variances(flow=True).tolist() for g in reconstruction.GROUPS}}
    return out


def render_table(result: dict, fmt: str, topology: Topology, not_run: dict[str, str], signal: str) -> str:
    """Correct-assignment fraction (%) per method and N_jets bin on matched events, then the
    SPANet-style table (an efficiency per particle kind of the topology), as Markdown (`md`) or
    LaTeX (`tex`); each method by its display label, with its config key beside it when they
    differ (`method_name`); then a line per baseline kind the topology does not run, with the
    reason (`not_run`, from `Baselines.not_run`): a method missing from the tables is said to be,
    and why. `signal` names the training sample the captions speak of ("ttbar" in config.yaml)."""
    bins = ["inclusive"] + [metrics.bin_label(lo, hi) for lo, hi in metrics.jet_bins(topology)]
    header = ["method"] + [f"N_jets {b}" if b != "inclusive" else "all" for b in bins]
    rows = [[method_name(result, method)] + [percent(m["correct_by_njets"][b]) for b in bins]
            for method, m in result["methods"].items()]
    text = table(header, rows, fmt, f"Correct assignments on matched {signal} (%, 68 % Clopper-Pearson interval)")
    by_tags = {method: m["correct_by_nbtags"] for method, m in result["methods"].items() if "correct_by_nbtags" in m}
    if by_tags:
        tag_bins = list(next(iter(by_tags.values())))  # the same test events for every method
        rows = [[method_name(result, method)] + [percent(bins_of[b]) for b in tag_bins]
                for method, bins_of in by_tags.items()]
        text += "\n" + table(["method"] + [f"{b} b-tags" for b in tag_bins], rows, fmt,
                             f"Correct assignments on matched {signal} by number of b-tagged jets (%, 68 % interval)")
    text += "\n" + spanet_style_table(result, fmt, topology, {m: e["spanet_table"] for m, e in result["methods"].items()},
                                      f"SPANet-style efficiencies on {signal}")
    sliced = {m: e["spanet_table_btag"] for m, e in result["methods"].items() if "spanet_table_btag" in e}
    if sliced:
        btag_min = next(iter(sliced.values()))["btag_min"]
        text += "\n" + spanet_style_table(result, fmt, topology, {m: s["rows"] for m, s in sliced.items()},
                                          f"SPANet-style efficiencies on {signal} with >= {btag_min} b-tagged jets "
                                          "(the SPANet talk's t tbar H evaluation)")
    return text + not_run_lines(not_run, fmt)


def percent(cell: dict) -> str:
    """A correct fraction with its interval, in %, or "-" for a bin without events."""
    if np.isnan(cell["fraction"]):
        return "-"
    return (f"{100 * cell['fraction']:.1f} +{100 * (cell['high'] - cell['fraction']):.1f} "
            f"-{100 * (cell['fraction'] - cell['low']):.1f}")


def spanet_style_table(result: dict, fmt: str, topology: Topology, rows_of: dict[str, list[dict]], caption: str) -> str:
    """The SPANet talk's table (`metrics.spanet_table` rows of each method of `rows_of`): per N_jets
    row, for all and for complete events, the event fraction, the event efficiency and an
    efficiency per particle kind of the topology."""
    kinds = list(metrics.particle_kinds(topology))
    header = ["method", "N_jets"] + [f"{kind} {col}" for kind in ("all", "complete")
                                     for col in ("event fraction", "event eff.", *(f"{k} eff." for k in kinds))]
    rows = []
    for method, table_rows in rows_of.items():
        for row in table_rows:
            cells = [method_name(result, method), row["n_jets"]]
            for kind in ("all_events", "complete_events"):
                r = row[kind]
                cells += [f"{r['event_fraction']:.3f}", _number(r["event_efficiency"]),
                          *(f"{r[f'{k}_efficiency']:.3f}" for k in kinds)]
            rows.append(cells)
    return table(header, rows, fmt, caption)


def not_run_lines(not_run: dict[str, str], fmt: str) -> str:
    """A paragraph per baseline kind of `not_run` (kind -> reason), "<display name>: not run
    (<reason>)"; nothing when every kind runs (t tbar)."""
    lines = [f"{plain_label(methods.get(kind).display)}: not run ({reason})" for kind, reason in not_run.items()]
    return "".join(f"\n{line.translate(TEX_ESCAPE) if fmt == 'tex' else line}\n" for line in lines)


def method_name(result: dict, method: str) -> str:
    """A method's name in the tables: its label (metrics.json `labels`, as `plain_label`),
    followed by its config key, which the commands and files use, when the two differ."""
    label = plain_label(result["labels"]["methods"].get(method, method))
    return method if label == method else f"{label} ({method})"


def plain_label(label: str) -> str:
    """A legend's label as plain text: its mathtext such as `$\\chi^2$` without the dollars and
    backslashes."""
    return re.sub(r"\$([^$]*)\$", lambda math: math.group(1).replace("\\", ""), label)


def _number(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:.3f}"
