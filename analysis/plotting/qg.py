"""The q/g study's figures (seed 004), from calibration.json: tagger outputs, ROC curves,
closure of the extracted quark and gluon distributions, and the scale factors vs pT."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import mplhep
import numpy as np

from analysis.plotting.style import finish, plt, save

METHOD_LABELS = {"matrix": "Matrix method", "topics": "Jet topics"}
FLAVOUR_COLOURS = {"q": "#5790fc", "g": "#e42536"}


def _measured(tagger: dict) -> list[dict]:
    return [b for b in tagger["bins"] if "skipped" not in b]


def qg_tagger_output(calibration: dict, path: Sequence[str | Path]) -> None:
    """Tagger output of MC test quark and gluon jets, central and forward, all pT together."""
    taggers = {name: calibration["taggers"][name] for name in calibration["tagger_order"]}
    edges = np.asarray(calibration["output_edges"])
    fig, axes = plt.subplots(1, len(taggers), figsize=(7.5 * len(taggers), 6.5), squeeze=False)
    for ax, (name, tagger) in zip(axes[0], taggers.items(), strict=True):
        for flavour, text in (("q", "quark"), ("g", "gluon")):
            for region, style in (("C", "-"), ("F", "--")):
                counts = np.asarray(tagger["output"][f"{flavour}{region}"])
                mplhep.histplot(counts / max(counts.sum(), 1e-300), edges, ax=ax, color=FLAVOUR_COLOURS[flavour],
                                linestyle=style, label=f"{text}, {'central' if region == 'C' else 'forward'}")
        finish(ax, "tagger output", "fraction of jets", title=name, title_fontsize=14)
    save(fig, path)


def qg_roc(calibration: dict, path: Sequence[str | Path]) -> None:
    """Gluon rejection vs quark efficiency: the MC test jets and, when it has truth, the data."""
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    for i, name in enumerate(calibration["tagger_order"]):
        tagger = calibration["taggers"][name]
        for sample, style in (("mc", "-"), ("data", "--")):
            perf = tagger["performance"][sample]
            if perf is None:
                continue
            eps_q, eps_g = np.asarray(perf["roc"]["eps_q"]), np.asarray(perf["roc"]["eps_g"])
            keep = eps_g > 0
            ax.plot(eps_q[keep], 1 / eps_g[keep], style, color=plt.cm.tab10(i),
                    label=f"{name}, {calibration['labels'][calibration[sample]]} (AUC {perf['auc']:.3f})")
    ax.set_yscale("log")
    finish(ax, r"quark efficiency $\varepsilon_q$", r"gluon rejection $1/\varepsilon_g$", fontsize=10)
    save(fig, path)


def qg_closure(calibration: dict, path: Sequence[str | Path]) -> None:
    """Extracted p_q, p_g (markers) against the truth (lines) of the data when it has truth,
    else of the MC, per method and pT bin, for the first tagger."""
    name = calibration["tagger_order"][0]
    tagger = calibration["taggers"][name]
    bins = _measured(tagger)
    truth = "data" if calibration["data_has_truth"] else "mc"
    fig, axes = plt.subplots(2, max(len(bins), 1), figsize=(8 * max(len(bins), 1), 13), squeeze=False)
    for column, b in enumerate(bins):
        n = len(b["edges"]) - 1
        quantiles = np.linspace(0.0, 1.0, n + 1)
        for row, method in enumerate(("matrix", "topics")):
            ax = axes[row, column]
            title = f"{METHOD_LABELS[method]}, {name}, $p_T$ {b['pt'][0]:g}-{b['pt'][1]:g} GeV"
            if "failed" in b["methods"][method]:
                ax.text(0.5, 0.5, f"{title}\nnot defined", ha="center", transform=ax.transAxes, fontsize=11)
                continue
            for flavour in ("q", "g"):
                true = np.asarray(b["templates"][truth][flavour])
                mplhep.histplot(true / true.sum(), quantiles, ax=ax, color=FLAVOUR_COLOURS[flavour],
                                label=f"true $p_{flavour}$ ({truth})")
                ax.plot(0.5 * (quantiles[1:] + quantiles[:-1]), b["methods"][method][f"p_{flavour}"], "o", ms=4,
                        color=FLAVOUR_COLOURS[flavour], label=f"extracted $p_{flavour}$")
            finish(ax, "tagger output quantile (MC)", "fraction of jets", fontsize=9,
                   title=title, title_fontsize=10)
    save(fig, path)


def qg_scale_factors(calibration: dict, path: Sequence[str | Path]) -> None:
    """SF_q and SF_g vs jet pT, matrix method and jet topics side by side; error bars are the
    total uncertainty, open markers the known answer of pseudo-data."""
    fig, axes = plt.subplots(2, 2, figsize=(15, 11), sharex=True, squeeze=False)
    taggers = calibration["taggers"]
    styles = [(t, wp) for t in calibration["tagger_order"] for wp in range(len(calibration["working_points"]))]
    for column, method in enumerate(("matrix", "topics")):
        for row, flavour in enumerate(("q", "g")):
            ax = axes[row, column]
            for k, (name, wp) in enumerate(styles):
                bins = [b for b in _measured(taggers[name]) if "failed" not in b["methods"][method]]
                low = np.array([b["pt"][0] for b in bins])
                high = np.array([b["pt"][1] for b in bins])
                shift = (k - (len(styles) - 1) / 2) * 0.04 * (high - low)
                x = 0.5 * (low + high) + shift
                points = [b["methods"][method]["working_points"][wp] for b in bins]
                colour = plt.cm.tab10(k)
                ax.errorbar(x, [p[f"sf_{flavour}"] for p in points],
                            yerr=[p[f"sf_{flavour}_unc"]["total"] for p in points], fmt="o", color=colour,
                            label=f"{name}, {calibration['working_points'][wp]:.0%} WP")
                if calibration["data_has_truth"]:
                    ax.plot(x, [b["data_truth"][wp][f"sf_{flavour}"] for b in bins], "o", mfc="none", ms=10,
                            color=colour)
            ax.axhline(1.0, color="grey", lw=1, ls=":")
            finish(ax, r"jet $p_T$ [GeV]", rf"$SF_{flavour}$", fontsize=9, title=METHOD_LABELS[method],
                   title_fontsize=11)
    save(fig, path)
