"""The generator-dependence study: every method trained on the nominal sample, measured on each
alternative ttbar sample (other showers, tunes, user MG/POWHEG x Pythia/Herwig files), and the
differences to the nominal with their statistical uncertainty.

Reads the evaluation's metrics.json (per-sample performance of every method) and the matching
tables (none for SPANet-format datasets: their matched-fraction cells stay empty); a sample added
under `generators:` in the config appears here by itself.
"""
from __future__ import annotations

import numpy as np

from analysis.config import Config
from analysis.core.tables import table
from analysis.selection import SHAPE_FEATURES

PULL_LIMIT = 3.0
"""A difference counts as significant beyond this many standard deviations."""


def difference(alternative: dict, nominal: dict) -> dict:
    """alternative - nominal of two independent binomial fractions ({"fraction", "error"})."""
    delta = alternative["fraction"] - nominal["fraction"]
    error = float(np.hypot(alternative["error"], nominal["error"]))
    return {"value": alternative["fraction"], "error": alternative["error"], "difference": delta,
            "difference_error": error, "pull": delta / error if error > 0 else float("nan")}


def matched_fraction(table: dict) -> dict:
    """Fraction of selected events fully matched at the configured Delta R_max, with its error."""
    scan = table["matched_fraction_vs_dr"]
    i = int(np.argmin(np.abs(np.asarray(scan["dr_max"]) - table["dr_max"])))
    return {"fraction": scan["fraction"][i], "error": scan["error"][i]}


def uses_shapes(cfg: Config, method: str) -> bool | None:
    """Whether a network takes jet-shape inputs (None for the fits)."""
    if method not in cfg.models:
        return None
    return any(f in SHAPE_FEATURES.values() for f in cfg.models[method].features)


def study(cfg: Config, metrics: dict, tables: dict[str, dict]) -> dict:
    """Per alternative sample: its matched fraction and every method's correct fraction
    (inclusive and per N_jets) with the difference to the nominal; then, per alternative, the
    mean absolute pull of the networks with and without jet-shape inputs (the paper's
    observation: shape inputs are more sensitive to the parton shower)."""
    nominal, *alternatives = cfg.generators()
    out = {"nominal": nominal, "alternatives": alternatives, "pull_limit": PULL_LIMIT,
           "labels": {s: cfg.samples[s].label or s for s in cfg.generators()},
           "matched_fraction": {}, "methods": {}, "shape_sensitivity": {}}
    for sample in alternatives:
        if sample in tables and nominal in tables:  # SPANet-format datasets have no matching tables
            out["matched_fraction"][sample] = difference(matched_fraction(tables[sample]),
                                                         matched_fraction(tables[nominal]))
    for method in metrics["method_order"]:
        per_sample = metrics["methods"][method]["per_sample"]
        if nominal not in per_sample:
            continue
        entry = {"shape_inputs": uses_shapes(cfg, method), "samples": {}}
        for sample in alternatives:
            if sample not in per_sample:
                continue
            entry["samples"][sample] = {bin_name: difference(per_sample[sample]["correct_by_njets"][bin_name],
                                                             per_sample[nominal]["correct_by_njets"][bin_name])
                                        for bin_name in per_sample[nominal]["correct_by_njets"]}
        out["methods"][method] = entry
    for sample in alternatives:
        pulls = {flag: [abs(m["samples"][sample]["inclusive"]["pull"]) for m in out["methods"].values()
                        if m["shape_inputs"] is flag and sample in m["samples"]] for flag in (True, False)}
        if pulls[True] and pulls[False]:
            with_shapes, without = float(np.mean(pulls[True])), float(np.mean(pulls[False]))
            out["shape_sensitivity"][sample] = {"mean_abs_pull_with_shapes": with_shapes,
                                                "mean_abs_pull_without_shapes": without,
                                                "shapes_more_sensitive": with_shapes > without}
    return out


def render(result: dict) -> str:
    """The study as a Markdown table: inclusive correct fraction per method and sample, with the
    difference to the nominal and its pull."""
    nominal, alternatives = result["nominal"], result["alternatives"]
    if not alternatives:
        return (f"**Generator dependence (nominal: {nominal})**\n\nNo alternative samples: add them under "
                "`generators:` in the config.\n")
    rows = [["matched fraction", *(_cell(result["matched_fraction"][s]) if s in result["matched_fraction"] else "-"
                                   for s in alternatives)]]
    for method, entry in result["methods"].items():
        rows.append([f"{method} correct", *(_cell(entry["samples"][s]["inclusive"]) if s in entry["samples"] else "-"
                                            for s in alternatives)])
    return (table(["quantity", *alternatives], rows, "md", f"Generator dependence (nominal: {nominal})") + "\n"
            + "Each cell: value (difference to nominal +- its error, pull). "
            f"|pull| > {result['pull_limit']:g} is marked **.\n")


def _cell(d: dict) -> str:
    mark = "**" if abs(d["pull"]) > PULL_LIMIT else ""
    return (f"{mark}{100 * d['value']:.1f} % ({100 * d['difference']:+.1f} +- {100 * d['difference_error']:.1f}, "
            f"{d['pull']:+.1f}){mark}")
