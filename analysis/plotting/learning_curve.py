"""The learning curve: how many training events the networks need to beat the permutation
baselines (issue: the SAJA paper trains on 310k events, the default run on a few thousand)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.ticker import FuncFormatter, NullFormatter

from analysis.plotting.paper import method_colours, method_label, sample_label
from analysis.plotting.style import finish, plt, save

BASELINE_STYLES = ("--", ":", "-.", (0, (5, 1)))


def learning_curve(curve: dict, paths: str | Path | Sequence[str | Path]) -> None:
    """Correct fraction on the matched test events versus the number of training events, one
    line per network (68 % Clopper-Pearson error bars), each baseline a horizontal band."""
    fig, ax = plt.subplots(figsize=(8, 6.5))
    # Networks and baselines from one palette: a baseline coloured apart (Dark2) took SPA-NET's orange.
    colours = method_colours([*curve["networks"], *curve["baselines"]])
    for i, (name, points) in enumerate(curve["networks"].items()):
        points = sorted(points, key=lambda p: p["train_events"])
        x = [p["train_events"] for p in points]
        y = [p["correct"] for p in points]
        ax.errorbar(x, y, yerr=[[p["correct"] - p["low"] for p in points], [p["high"] - p["correct"] for p in points]],
                    marker="os^vD"[i % 5], color=colours[name], label=method_label(curve, name), capsize=3)
    for i, (name, line) in enumerate(curve["baselines"].items()):
        ax.axhline(line["correct"], color=colours[name], ls=BASELINE_STYLES[i % len(BASELINE_STYLES)], lw=1.5,
                   label=method_label(curve, name))
        ax.axhspan(line["low"], line["high"], color=colours[name], alpha=0.12, lw=0)
    ax.set_xscale("log")
    # Labelled at the measured training-set sizes only: over less than a decade matplotlib labels
    # every minor tick (6000, 7000, ...), and those labels run into each other.
    ax.set_xticks(sorted({p["train_events"] for points in curve["networks"].values() for p in points}))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))  # 300, not 3 x 10^2
    ax.xaxis.set_minor_formatter(NullFormatter())
    # Up to half again the highest error bar: at t tbar H's 10-20 % a 0-1 axis flattens the curve.
    highest = max([p["high"] for points in curve["networks"].values() for p in points]
                  + [line["high"] for line in curve["baselines"].values()], default=1.0)
    ax.set_ylim(0, min(1.0, 1.5 * highest))
    events = next(iter(curve["networks"].values()), [{}])[0].get("events")
    sample = sample_label(curve, curve["sample"])
    title = f"{sample}, {events} matched test events" if events else sample
    finish(ax, "training events", "fraction of correct assignments", fontsize=11, title=title, title_fontsize=11,
           loc="upper left", ncols=2)
    save(fig, paths)
