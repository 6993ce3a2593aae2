"""The fitted jet-energy transfer functions over the responses they were fitted on."""
from __future__ import annotations

from pathlib import Path

import hist
import numpy as np

from analysis.methods.transfer_functions import CATEGORIES, FIT_WINDOW, ResponseModel, crystal_ball_logpdf
from analysis.plotting.style import label, plt, save


def plot_transfer_functions(fitted: dict, responses: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path) -> None:
    """One panel per category: the response x = (E_jet - E_parton) / E_parton of the matched
    training jets its fit used (`responses[category]`, its own or the pooled ones) in the lowest, middle and highest parton-energy bin of the fit (points), the
    bin's Crystal Ball fit (dashed) and the smooth energy-dependent model at the bin's mean
    energy (solid). `responses[category]` = (x, parton energy)."""
    fig, axes = plt.subplots(2, 2, figsize=(13, 11), sharex=True)
    x_grid = np.linspace(*FIT_WINDOW, 400)
    for ax, name in zip(axes.flat, CATEGORIES, strict=True):
        x, energy = responses[name]
        model = ResponseModel(**fitted[name]["model"])
        bins = fitted[name]["bins"]
        for colour, b in zip(("C0", "C1", "C2"), _spread(bins), strict=False):
            inside = (energy >= b["e_low"]) & (energy <= b["e_high"])
            h = hist.Hist(hist.axis.Regular(50, *FIT_WINDOW, name="x")).fill(x[inside])
            density = h.density()
            centres = h.axes[0].centers
            error = np.sqrt(h.values()) / max(h.values().sum(), 1) / h.axes[0].widths
            ax.errorbar(centres, density, yerr=error, fmt="o", ms=3, color=colour,
                        label=f"E {b['e_low']:.0f}-{b['e_high']:.0f} GeV ({b['entries']} jets)")
            fit = np.exp(crystal_ball_logpdf(x_grid, b["mean"], b["sigma"], b["alpha"], b["n"]))
            ax.plot(x_grid, fit / np.trapezoid(fit, x_grid), "--", color=colour, lw=1)
            smooth = np.exp(crystal_ball_logpdf(x_grid, *model.parameters(b["e_mean"])))
            ax.plot(x_grid, smooth / np.trapezoid(smooth, x_grid), "-", color=colour, lw=1.5)
        ax.set_xlabel(r"$(E_{jet} - E_{parton}) / E_{parton}$")
        ax.set_ylabel("density")
        ax.legend(fontsize=10, loc="upper left", title=panel_title(name, fitted[name]), title_fontsize=11)
        label(ax)
    save(fig, path)


POOLS = {"own": "", "flavour": "fitted on the {flavour} jets of both regions", "all": "fitted on all jets"}
"""What a panel title says of the jets a category's fit borrowed (transfer_functions.fit_pools)."""


def panel_title(name: str, fit: dict) -> str:
    """"b jets, barrel (102 jets)", or, when the category had too few jets of its own, which jets
    the fit (and the panel's points) pooled: "b jets, barrel: fitted on all jets (102 jets)"."""
    flavour, region = name.split("_")
    pooled = POOLS[fit["jets_from"]].format(flavour=flavour)
    return f"{flavour} jets, {region}{': ' + pooled if pooled else ''} ({fit['pairs']} jets)"


def _spread(bins: list) -> list:
    """The lowest, middle and highest energy bin (fewer when there are fewer)."""
    picks = sorted({0, len(bins) // 2, len(bins) - 1})
    return [bins[i] for i in picks]
