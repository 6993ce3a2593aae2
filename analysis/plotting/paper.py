"""The paper's figures (seed 000, Figs. 2-13) and the efficiency table, one function each; which
function draws which figure from what is analysis.plotting.figures.

Inputs are the stage artifacts as dictionaries: the matching tables (Figs. 2-4, one curve per
signal sample), the evaluation's metrics.json (every method it lists), the SAJA attention
averages (Fig. 12) and the benchmark results (Fig. 13).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import mplhep
import numpy as np
from matplotlib.ticker import NullFormatter

from analysis.evaluation.metrics import bin_label, jet_bins, particle_kinds
from analysis.evaluation.reconstruction import GROUPS, mass_candidates
from analysis.methods import REGISTRY
from analysis.plotting.style import finish, label, plt, save
from analysis.topology import Topology

GROUP_COLOURS = {"correct": "#e42536", "wrong": "#f89c20", "unmatched": "#5790fc", "background": "#9c9ca1"}


def ordered_methods(metrics: dict) -> list[tuple[str, dict]]:
    """(name, metrics) of every method in the config's order."""
    return [(name, metrics["methods"][name]) for name in metrics["method_order"]]


def method_label(metrics: dict, method: str) -> str:
    """A method's legend name: its `labels` entry in metrics.json (the config's `label`, a
    baseline's display name), else its key."""
    return metrics.get("labels", {}).get("methods", {}).get(method, method)


def sample_label(metrics: dict, sample: str) -> str:
    return metrics.get("labels", {}).get("samples", {}).get(sample, sample)


def group_labels(topology: Topology) -> dict[str, str]:
    """The legend of each event group (analysis.evaluation.reconstruction.GROUPS), naming the
    topology's process (`Topology.process_latex`: t tbar, t tbar H)."""
    process = topology.process_latex
    return {"correct": f"correct {process}", "wrong": f"wrong {process}", "unmatched": f"unmatched {process}",
            "background": "QCD multijet"}


def method_colours(methods) -> dict[str, tuple]:
    """One colour per method, the same in every figure: tab10 up to ten methods, tab20 beyond
    (the overlays bring a default run to twelve), repeating only past twenty."""
    methods = list(methods)
    palette, size = (plt.cm.tab10, 10) if len(methods) <= 10 else (plt.cm.tab20, 20)
    return {m: palette(i % size) for i, m in enumerate(methods)}


def _network_panels(metrics: dict, key: str, height: float = 6.5):
    """(figure, [(axis, (method, metrics))]): one panel per network whose metrics have a true `key`."""
    networks = [(method, m) for method, m in ordered_methods(metrics) if m.get(key)]
    fig, axes = plt.subplots(1, max(len(networks), 1), figsize=(7.5 * max(len(networks), 1), height), squeeze=False)
    fig.subplots_adjust(wspace=0.35)  # room for each panel's own y label and tick labels
    return fig, list(zip(axes[0], networks, strict=False))


def _log_y(ax) -> None:
    """A log y axis labelled at its decades only: matplotlib also labels minor ticks when the
    range is under about a decade, and those labels run into each other."""
    ax.set_yscale("log")
    ax.yaxis.set_minor_formatter(NullFormatter())


def _display_name(labels: dict[str, str] | None, key: str) -> str:
    """A sample's legend name in the matching figures: its `label`, else its key."""
    return (labels or {}).get(key, key)


def _signal_tables(tables: dict[str, dict]) -> dict[str, dict]:
    return {s: t for s, t in tables.items() if t["events"]["matched"] > 0}


def _no_matching_note(ax, tables: dict[str, dict], no_matching: Sequence[str]) -> None:
    """Say on a matching figure which samples it cannot show: SPANet-format datasets carry jet
    targets but no partons, so there is no Delta R matching to draw for them."""
    if no_matching:
        ax.text(0.5, 0.5 if not _signal_tables(tables) else 0.06,
                f"no parton-level matching information: {', '.join(no_matching)}\n(SPANet-format dataset)",
                transform=ax.transAxes, ha="center", va="center", fontsize=11, color="dimgrey")


def fig02_matched_fraction(tables: dict[str, dict], path: str | Path, topology: Topology, no_matching: Sequence[str] = (),
                           labels: dict[str, str] | None = None) -> None:
    """Fraction of selected signal events with all the topology's partons matched vs Delta R_max."""
    fig, ax = plt.subplots(figsize=(8, 6.5))
    for sample, t in _signal_tables(tables).items():
        scan = t["matched_fraction_vs_dr"]
        ax.errorbar(scan["dr_max"], scan["fraction"], yerr=scan["error"], marker="o", ms=4,
                    label=_display_name(labels, sample))
    if tables:
        ax.axvline(tables[next(iter(tables))]["dr_max"], ls=":", color="grey", label=r"training $\Delta R_{max}$")
    ax.set_ylim(0, None)
    _no_matching_note(ax, tables, no_matching)
    finish(ax, r"$\Delta R_{max}$(jet, parton)", f"fraction of matched {topology.process_latex} events")
    save(fig, path)


def fig03_njets(tables: dict[str, dict], path: str | Path, topology: Topology, no_matching: Sequence[str] = (),
                labels: dict[str, str] | None = None) -> None:
    """Jet multiplicity of matched signal events, normalised per sample."""
    fig, ax = plt.subplots(figsize=(8, 6.5))
    for sample, t in _signal_tables(tables).items():
        n, counts = np.array(t["n_jets_matched"]["n_jets"]), np.array(t["n_jets_matched"]["events"], float)
        edges = np.append(n - 0.5, n[-1] + 0.5) if len(n) else np.array([5.5, 6.5])
        mplhep.histplot(counts / max(counts.sum(), 1), edges, ax=ax, label=_display_name(labels, sample),
                        yerr=np.sqrt(counts) / max(counts.sum(), 1))
    _no_matching_note(ax, tables, no_matching)
    finish(ax, r"$N_{jets}$", f"fraction of matched {topology.process_latex} events")
    save(fig, path)


def fig04_leading_n(tables: dict[str, dict], path: str | Path, topology: Topology, no_matching: Sequence[str] = (),
                    labels: dict[str, str] | None = None) -> None:
    """Fraction of matched signal events whose partons are all matched within the leading N jets."""
    fig, ax = plt.subplots(figsize=(8, 6.5))
    for sample, t in _signal_tables(tables).items():
        ax.plot(t["fraction_within_leading_n"]["n"], t["fraction_within_leading_n"]["fraction"], marker="o",
                label=_display_name(labels, sample))
    ax.set_ylim(0, 1.05)
    _no_matching_note(ax, tables, no_matching)
    finish(ax, "leading N jets", f"fraction of matched {topology.process_latex} events")
    save(fig, path)


def fig05_performance(metrics: dict, path: str | Path, topology: Topology) -> None:
    """Score-threshold scans: 1 - wrong fraction, unmatched-signal rejection and background
    rejection, each against the correct fraction on matched signal (the topology's process)."""
    process = topology.process_latex
    fig, axes = plt.subplots(1, 3, figsize=(21, 6.5))
    colours = method_colours(metrics["method_order"])
    for method, m in ordered_methods(metrics):
        c = m["performance_curve"]
        style = {"ls": "-" if m["network"] else "--", "color": colours[method], "label": method_label(metrics, method)}
        axes[0].plot(c["correct"], 1 - np.asarray(c["wrong"]), **style)
        axes[1].plot(c["correct"], c["unmatched_rejection"], **style)
        axes[2].plot(c["correct"], c["background_rejection"], **style)
    titles = (f"1 - wrong fraction (matched {process})", f"unmatched {process} rejection", "QCD multijet rejection")
    for ax, title in zip(axes, titles, strict=True):
        ax.set_xlabel(f"correct fraction (matched {process})")
        ax.set_ylabel(title)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        label(ax)
    axes[0].legend(fontsize=11)
    save(fig, path)


def fig06_valid_fraction(metrics: dict, path: str | Path) -> None:
    """Topologically valid (and accepted) fraction vs predictive-entropy threshold, networks."""
    fig, ax = plt.subplots(figsize=(8, 6.5))
    styles = ("-", ":", "--", "-.")
    colours = {"matched": "C3", "unmatched": "C0", "background": "k"}
    entropy_scored = {m.score_name for m in REGISTRY.values() if m.entropy_cut}  # whose validity an entropy cut sets
    networks = [(method, m) for method, m in ordered_methods(metrics)
                if "valid_vs_threshold" in m and m["score_name"] in entropy_scored]
    for (method, m), style in zip(networks, styles * 4, strict=False):
        v = m["valid_vs_threshold"]
        for category, colour in colours.items():
            ax.plot(v["threshold"], v[category], style, color=colour, label=f"{method_label(metrics, method)}, {category}")
    ax.set_ylim(0, 1.02)
    finish(ax, "predictive entropy threshold", "fraction valid and accepted", fontsize=9, ncol=2)
    save(fig, path)


def fig07_correct_vs_njets(metrics: dict, path: str | Path, topology: Topology) -> None:
    """Correct-assignment fraction on matched signal vs jet multiplicity (the topology's bins),
    every method."""
    fig, ax = plt.subplots(figsize=(8, 6.5))
    keys = [bin_label(lo, hi) for lo, hi in jet_bins(topology)]
    x = np.arange(len(keys))
    methods = metrics["method_order"]
    colours = method_colours(methods)
    for i, method in enumerate(methods):
        bins = metrics["methods"][method]["correct_by_njets"]
        shift = (i - (len(methods) - 1) / 2) * 0.06
        ax.errorbar(x + shift, [bins[k]["fraction"] for k in keys],
                    yerr=[[bins[k]["fraction"] - bins[k]["low"] for k in keys],
                          [bins[k]["high"] - bins[k]["fraction"] for k in keys]],
                    marker="os^vDP*"[i % 7], ls="none", color=colours[method], label=method_label(metrics, method))
    ax.set_xticks(x, [k.replace(">= ", r"$\geq$") for k in keys])
    ax.set_ylim(0, 1)
    finish(ax, r"$N_{jets}$", "fraction of correct assignments", fontsize=11)
    save(fig, path)


def fig08_masses(metrics: dict, path: str | Path, topology: Topology) -> None:
    """Candidate masses after the score cut, one panel per resonance of the topology (W, top; and
    H for t tbar H) with a line at its mass, stacked by event group, normalised to the
    luminosity; counts of evaluation events when a sample has no cross-section (a SPANet-format
    dataset without `cross_section_pb`), which the legend says; a log axis where the background
    dwarfs the signal (`_background_dominates`)."""
    r = metrics["reconstruction"]
    unit_weights = r.get("unit_weight_samples", [])
    title = f"{method_label(metrics, r['method'])}, score $\\leq$ {r['score_cut']:.3g}"
    if unit_weights:
        title += f"\nevent counts (no cross-section: {', '.join(unit_weights)})"
    candidates = mass_candidates(topology)
    legend = group_labels(topology)
    fig, axes = plt.subplots(1, len(candidates), figsize=(8 * len(candidates), 6.5), squeeze=False)
    for ax, (name, (resonance, axis)) in zip(axes[0], candidates.items(), strict=True):
        h = r[name]
        edges = np.asarray(h["edges"])
        order = ["background", "unmatched", "wrong", "correct"]
        stacks = [np.asarray(h[g])[1:-1] for g in order]
        log = _background_dominates(stacks[0], np.sum(stacks[1:], axis=0))
        power = 0 if log else _display_power(np.sum(stacks, axis=0).max(initial=0.0))
        mplhep.histplot([v / 10.0**power for v in stacks], edges, ax=ax, stack=True, histtype="fill",
                        label=[legend[g] for g in order], color=[GROUP_COLOURS[g] for g in order])
        if log:
            counts = np.concatenate(stacks)
            positive = counts[counts > 0]
            ax.set_yscale("log")
            ax.set_ylim(0.5 * positive.min(), 50 * np.sum(stacks, axis=0).max())
        ax.axvline(resonance.mass, color="k", ls=":", lw=1)
        ax.set_xlabel(axis.label)
        ax.set_ylabel(f"candidates / {edges[1] - edges[0]:.0f} GeV" + (f" [$10^{{{power}}}$]" if power else ""))
        ax.legend(fontsize=11, title=title, title_fontsize=11)
        mplhep.cms.label(data=False, ax=ax, loc=0, fontsize=14, lumi=None if unit_weights else metrics["luminosity_fb"],
                         com=13)
    save(fig, path)


def _background_dominates(background: np.ndarray, signal: np.ndarray) -> bool:
    """Whether a mass panel needs a log axis to show its signal at all: the background's highest
    bin above 20 times the signal's (t tbar H: a few QCD events that pass >= 8 jets, each weighing
    10^5 candidates at the luminosity, above a signal of a few hundred)."""
    return signal.max(initial=0.0) > 0 and background.max(initial=0.0) > 20 * signal.max(initial=0.0)


def _display_power(peak: float) -> int:
    """The power of ten a histogram is divided by so that its axis needs no offset text (which
    would sit under the CMS label): none below 10^4."""
    return int(np.floor(np.log10(peak))) if peak >= 1e4 else 0


def fig09_confusion(metrics: dict, path: str | Path, topology: Topology) -> None:
    """Jet-level confusion matrices (rows: truth, normalised; the topology's jet classes) of every
    network on matched signal."""
    fig, panels = _network_panels(metrics, "confusion", height=6.8)
    names = [c.latex for c in topology.classes]
    for ax, (method, m) in panels:
        matrix = np.asarray(m["confusion"])
        ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=11,
                    color="white" if value > 0.5 else "black")
        ax.set_xticks(range(len(names)), names, fontsize=12, rotation=30)
        ax.set_yticks(range(len(names)), names, fontsize=12)
        ax.set_xlabel("predicted")
        ax.set_ylabel("truth")
        ax.set_title(method_label(metrics, method), fontsize=16)
        ax.minorticks_off()
    save(fig, path)


def fig10_per_sample(metrics: dict, path: str | Path, topology: Topology) -> None:
    """1 - wrong fraction against correct fraction on the matched events of each signal sample
    (generator / parton shower), for every network trained on the nominal sample; one panel
    per network, one line per sample."""
    process = topology.process_latex
    fig, panels = _network_panels(metrics, "network")
    for ax, (method, m) in panels:
        for sample, per in m["per_sample"].items():
            c = per["performance_curve"]
            ax.plot(c["correct"], 1 - np.asarray(c["wrong"]), label=sample_label(metrics, sample))
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        finish(ax, f"correct fraction (matched {process})", f"1 - wrong fraction (matched {process})",
               fontsize=11, title=method_label(metrics, method))
    save(fig, path)


def generators_correct(metrics: dict, path: str | Path, topology: Topology) -> None:
    """Inclusive correct fraction on matched events of each signal sample (markers), every method
    (columns): the generator dependence at a glance."""
    methods = metrics["method_order"]
    samples = sorted({s for m in metrics["methods"].values() for s in m["per_sample"]})
    fig, ax = plt.subplots(figsize=(max(8, 1.3 * len(methods)), 6.5))
    for k, sample in enumerate(samples):
        shift = (k - (len(samples) - 1) / 2) * 0.12
        values = [metrics["methods"][m]["per_sample"].get(sample, {}).get("correct_by_njets", {}).get("inclusive")
                  for m in methods]
        x = [i + shift for i, v in enumerate(values) if v]
        ax.errorbar(x, [v["fraction"] for v in values if v], yerr=[v["error"] for v in values if v],
                    marker="os^vD"[k % 5], ls="none", label=sample_label(metrics, sample))
    ax.set_xticks(range(len(methods)), [method_label(metrics, m) for m in methods], rotation=30, fontsize=13, ha="right")
    ax.set_ylim(0, 1)
    finish(ax, "", f"correct fraction (matched {topology.process_latex})", fontsize=11)
    save(fig, path)


def generators_entropy(metrics: dict, path: str | Path) -> None:
    """Score distributions of the matched events (correct and wrong together) of each signal
    sample, per network, normalised to unit area: how the networks' confidence moves with the
    generator."""
    fig, panels = _network_panels(metrics, "network")
    for ax, (method, m) in panels:
        for sample, per in m["per_sample"].items():
            d = per["score_distributions"]
            counts = np.asarray(d["correct"], float) + np.asarray(d["wrong"], float)
            if counts.sum() > 0:
                mplhep.histplot(counts / counts.sum(), d["edges"], ax=ax, label=sample_label(metrics, sample))
        _log_y(ax)
        finish(ax, m["score_name"], "fraction of matched events", fontsize=11, title=method_label(metrics, method))
    save(fig, path)


def fig11_entropy(metrics: dict, path: str | Path, topology: Topology) -> None:
    """Score distributions (predictive entropy for networks) of correct and wrong matched signal,
    unmatched signal and background, each normalised to unit area."""
    fig, panels = _network_panels(metrics, "network")
    legend = group_labels(topology)
    for ax, (method, m) in panels:
        d = m["score_distributions"]
        for group in GROUPS:
            counts = np.asarray(d[group], float)
            if counts.sum() > 0:
                mplhep.histplot(counts / counts.sum(), d["edges"], ax=ax, label=legend[group],
                                color=GROUP_COLOURS[group])
        _log_y(ax)
        finish(ax, m["score_name"].replace("predictive entropy", r"predictive entropy $\mathbb{H}[Y]$"),
               "fraction of events", fontsize=11, title=method_label(metrics, method))
    save(fig, path)


def fig12_attention(attention: dict[str, dict], path: str | Path, topology: Topology) -> None:
    """Average attention matrices, block by block (columns), of each SAJA model (rows), for
    correctly assigned matched signal events, jets in truth order (the topology's slots, then the
    other jets; queries are rows). A model with no such event gets a row that says so instead of
    an empty one."""
    models = list(attention.items())
    n_blocks = max([1, *(len(a["blocks"]) for _, a in models)])
    fig, axes = plt.subplots(max(len(models), 1), n_blocks, figsize=(5.2 * n_blocks, 5 * max(len(models), 1)),
                             squeeze=False)
    ticks = [*(slot.latex for slot in topology.slots), topology.classes[topology.other_class].latex]
    for row, (name, a) in zip(axes, models, strict=False):
        title = a.get("label", name)
        for k, (ax, matrix) in enumerate(zip(row, a["blocks"], strict=False)):
            ax.imshow(np.asarray(matrix), cmap="viridis", vmin=0)
            ax.set_xticks(range(len(ticks)), ticks, fontsize=11)
            ax.set_yticks(range(len(ticks)), ticks, fontsize=11)
            ax.minorticks_off()
            ax.set_title(f"{title}, block {k + 1} ({a['events']} events)", fontsize=13)
        if not a["blocks"]:
            row[0].text(0, 0.5, f"{title}: no correctly assigned matched test event,\nso no attention to average",
                        transform=row[0].transAxes, ha="left", va="center", fontsize=14)
    if not models:
        axes[0, 0].text(0.5, 0.5, "no SAJA model in this config", transform=axes[0, 0].transAxes, ha="center",
                        fontsize=14)
    for ax in axes.flat:
        if not ax.images:
            ax.axis("off")
    save(fig, path)


def fig13_latency(benchmarks: dict[str, dict], path: str | Path) -> None:
    """Average time per event against the jet multiplicity, from the benchmark JSONs: SAJA (the
    paper's Table 1 size) per event at batch 1 and at batch 1000 (10 jets), the batched and the
    per-event Minuit kinematic-likelihood fits and chi^2 (6 and 7 leading jets) on this machine."""
    fig, ax = plt.subplots(figsize=(8.5, 6.5))
    for name, b in benchmarks.items():
        if name.startswith("saja_"):
            device = b.get("device", name.removeprefix("saja_"))
            n = [k for k in range(6, 13) if f"latency_ms_batch1_njets_{k}" in b]
            ax.plot(n, [b[f"latency_ms_batch1_njets_{k}"] for k in n], "o-", label=f"SAJA, batch 1 ({device})")
            if "inference_events_per_s_batch_1000" in b:
                ax.axhline(1e3 / b["inference_events_per_s_batch_1000"], ls="--", color=ax.lines[-1].get_color(),
                           label=f"SAJA, batch 1000, 10 jets ({device})")
        if name == "baselines":
            for key, text, marker in (("klfitter_{}_jets_minuit_s_per_event", "KLFitter-style, Minuit per event", "s"),
                                      ("klfitter_{}_jets_events_per_s", "KLFitter-style, batched", "D"),
                                      ("chi2_{}_jets_events_per_s", r"$\chi^2$, batched", "^")):
                n = [k for k in (6, 7) if key.format(k) in b]
                per_event = [b[key.format(k)] * 1e3 if "_s_per_event" in key else 1e3 / b[key.format(k)] for k in n]
                ax.plot(n, per_event, marker=marker, ls=":", label=text)
    ax.set_yscale("log")
    finish(ax, r"$N_{jets}$ (SAJA: all jets; fits: leading jets)", "time per event [ms]", fontsize=10)
    save(fig, path)


def efficiency_table_figure(metrics: dict, path: str | Path, topology: Topology) -> None:
    """The SPANet-style table (event fraction, event efficiency and the efficiency of each
    particle kind of the topology: top, and Higgs for t tbar H; all and complete events)
    rendered as a figure."""
    kinds = list(particle_kinds(topology))
    efficiencies = ["event eff.", *(f"{kind} eff." for kind in kinds)]
    header = ["method", r"$N_{jets}$", "all: event frac.", *efficiencies, "complete: event frac.", *efficiencies]
    rows = []
    for method, m in ordered_methods(metrics):
        for row in m["spanet_table"]:
            cells = [method_label(metrics, method), row["n_jets"].replace(">= ", "≥")]
            for kind in ("all_events", "complete_events"):
                r = row[kind]
                cells += [f"{r['event_fraction']:.3f}", f"{r['event_efficiency']:.3f}",
                          *(f"{r[f'{k}_efficiency']:.3f}" for k in kinds)]
            rows.append(cells)
    fig, ax = plt.subplots(figsize=(15, 0.34 * len(rows) + 1.2))
    ax.axis("off")
    table = ax.table(cellText=rows, colLabels=header, loc="center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(10)
    table.auto_set_column_width(range(len(header)))  # equal widths clipped "complete: event frac."
    table.scale(1, 1.3)
    save(fig, path)
