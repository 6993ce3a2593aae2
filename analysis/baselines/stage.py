"""The baseline stages: fit the chi^2 widths on the training set, then assign every test sample."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from analysis import assignments, datasets
from analysis.baselines.chi2 import Chi2Settings, best_assignment, fit_widths, four_vectors, truth_masses
from analysis.config import Config
from analysis.matching import MATCHED
from analysis.provenance import now, write_json, write_meta

KINEMATICS = ("pt", "eta", "phi", "mass", "btag")


def raw_inputs(path: str | Path) -> dict:
    data = datasets.load(path, KINEMATICS, scaled=False)
    for i, name in enumerate(KINEMATICS):
        data[name] = data["x"][..., i]
    return data


def run_chi2_widths(cfg: Config, train_path: str | Path, output: str | Path) -> dict:
    started = now()
    data = raw_inputs(train_path)
    matched = data["category"] == MATCHED
    p4 = four_vectors(data["pt"][matched], data["eta"][matched], data["phi"][matched], data["mass"][matched])
    settings = Chi2Settings(m_top=cfg.baselines.m_top, m_w=cfg.baselines.m_w)
    widths = fit_widths(*truth_masses(p4, data["targets"][matched]), settings)
    write_json(output, widths)
    write_meta(output, tag=cfg.tag, stage="chi2_widths", config=cfg.stage_config("baselines"),
               inputs=[train_path], started=started, extra=widths)
    return widths


def run_chi2(cfg: Config, n_jets: int, widths_path: str | Path, test_path: str | Path,
             outputs: dict[str, str | Path], chunk: int = 2000) -> None:
    started = now()
    widths = json.loads(Path(widths_path).read_text())
    settings = Chi2Settings(m_top=cfg.baselines.m_top, m_w=cfg.baselines.m_w, sigma_top=widths["sigma_top"],
                            sigma_w=widths["sigma_w"], n_jets=n_jets, btag_aware=cfg.baselines.chi2_btag_aware)
    data = raw_inputs(test_path)
    n_real = data["mask"].sum(axis=1)
    slots, chi2 = [], []
    for start in range(0, len(n_real), chunk):
        part = slice(start, start + chunk)
        s, c = best_assignment(data["pt"][part], data["eta"][part], data["phi"][part], data["mass"][part],
                               data["btag"][part], n_real[part], settings)
        slots.append(s)
        chi2.append(c)
    slots = np.concatenate(slots) if slots else np.zeros((0, 6), np.int64)
    chi2 = np.concatenate(chi2) if chi2 else np.zeros(0)
    for sample, output in outputs.items():
        assignments.write_sample(output, sample, data, slots, np.isfinite(chi2), chi2)
        write_meta(output, tag=cfg.tag, stage="chi2", config=cfg.stage_config("baselines"),
                   inputs=[widths_path, test_path], started=started,
                   extra={"method": f"chi2_{n_jets}", "sample": sample, "settings": settings.__dict__})
