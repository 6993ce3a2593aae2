"""The q/g study's calibration of one tagger (its performance, its templates and the per-pT-bin
measurement of analysis.qg.measurement) and the Markdown tables of every tagger's."""
from __future__ import annotations

import logging

import numpy as np

from analysis.config import Config
from analysis.core.tables import table
from analysis.qg import samples as qgsamples
from analysis.qg.measurement import Jets, measure_bin, performance, templates

log = logging.getLogger(__name__)

MIN_JETS = 20
"""Fewest forward or central jets of a pT bin (in data and in MC) worth a measurement."""


def tagger_jets(sample: dict[str, np.ndarray], score: np.ndarray) -> Jets:
    return Jets(score, sample["pt"], sample["forward"].astype(bool), sample["flavour"], sample["weight"],
                (sample["file"].astype(np.int64) << 40) | sample["event"])


def labelled_performance(jets: Jets) -> dict | None:
    quark, gluon = qgsamples.is_quark(jets.flavour), qgsamples.is_gluon(jets.flavour)
    if not (quark.any() and gluon.any()):
        return None
    keep = quark | gluon
    return performance(jets.score[keep], quark[keep])


def calibrate_tagger(cfg: Config, mc: Jets, data: Jets, rng: np.random.Generator) -> dict:
    """Performance and per-pT-bin measurement of one tagger."""
    study = cfg.qg
    result = {"performance": {"mc": labelled_performance(mc), "data": labelled_performance(data), "by_pt": []},
              "output": {k: v.tolist() for k, v in templates(mc, np.linspace(0.0, 1.0, study.output_bins + 1)).items()},
              "bins": []}
    for low, high in zip(study.pt_bins[:-1], study.pt_bins[1:], strict=True):
        in_mc, in_data = mc.select((mc.pt >= low) & (mc.pt < high)), data.select((data.pt >= low) & (data.pt < high))
        result["performance"]["by_pt"].append({"pt": [low, high], "mc": labelled_performance(in_mc)})
        problem = _too_few(in_mc, in_data)
        if problem:
            log.warning("pT bin [%g, %g] GeV skipped: %s", low, high, problem)
            result["bins"].append({"pt": [low, high], "skipped": problem})
            continue
        edges = template_edges(in_mc.score, study.output_bins)
        result["bins"].append({"pt": [low, high], "edges": edges.tolist(),
                               **measure_bin(in_data, in_mc, edges, study.working_points, study.quantile_bins,
                                             study.bootstrap, rng)})
    return result


def template_edges(mc_score: np.ndarray, n_bins: int) -> np.ndarray:
    """Bins of equal MC population spanning [0, 1]: a tagger's output may crowd into a narrow
    range, and equal-width bins would then leave the templates one or two bins to work with."""
    inner = np.quantile(mc_score, np.linspace(0.0, 1.0, n_bins + 1)[1:-1])
    return np.unique(np.concatenate([[0.0], inner, [1.0]]))


def _too_few(mc: Jets, data: Jets) -> str | None:
    counts = {"data forward": data.forward.sum(), "data central": (~data.forward).sum(),
              "MC forward quark": (mc.forward & qgsamples.is_quark(mc.flavour)).sum(),
              "MC central gluon": (~mc.forward & qgsamples.is_gluon(mc.flavour)).sum()}
    low = {k: int(v) for k, v in counts.items() if v < MIN_JETS}
    return f"fewer than {MIN_JETS} jets: {low}" if low else None


def render(calibration: dict) -> str:
    """Tagger performance and the scale factors as Markdown tables."""
    performance_rows = []
    for name in calibration["tagger_order"]:
        tagger = calibration["taggers"][name]
        cells = [[f"{p['auc']:.3f}", f"{p['gluon_rejection_at_50']:.1f}"] if p else ["-", "-"]
                 for p in (tagger["performance"]["mc"], tagger["performance"]["data"])]
        performance_rows.append([name, *cells[0], *cells[1]])
    truth = calibration["data_has_truth"]
    rows = []
    for name in calibration["tagger_order"]:
        for b in calibration["taggers"][name]["bins"]:
            pt = f"{b['pt'][0]:g}-{b['pt'][1]:g}"
            if "skipped" in b:
                rows.append([name, pt, "-", "-", f"skipped: {b['skipped']}", ""])
                continue
            for i, wp in enumerate(calibration["working_points"]):
                for method, result in b["methods"].items():
                    if "failed" in result:
                        rows.append([name, pt, f"{wp:.0%}", method, f"failed: {result['failed']}", ""])
                        continue
                    point = result["working_points"][i]
                    cells = []
                    for flavour in ("q", "g"):
                        known = f" [{b['data_truth'][i][f'sf_{flavour}']:.3f}]" if truth else ""
                        cells.append(f"{point[f'sf_{flavour}']:.3f} +- {point[f'sf_{flavour}_unc']['total']:.3f}{known}")
                    rows.append([name, pt, f"{wp:.0%}", method, *cells])
    return (table(["tagger", "AUC (MC)", "1/eps_g at eps_q = 50 % (MC)", "AUC (data)", "1/eps_g (data)"],
                  performance_rows, "md", f"Quark/gluon taggers (MC: {calibration['mc']}, data: {calibration['data']})")
            + "\n" + table(["tagger", "pT [GeV]", "WP", "method", "SF_q", "SF_g"], rows, "md",
                           "Scale factors (value +- total uncertainty"
                           + ("; [true value of the pseudo-data])" if truth else ")")))

