"""The baseline stages: fit the chi^2 widths and the transfer functions on the matched training
events, then assign every test sample with chi^2 and with the kinematic likelihood."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from analysis import assignments, datasets
from analysis.config import Config
from analysis.core.kinematics import cascade_masses, energy_of, four_vectors
from analysis.core.provenance import now, sweep_leftovers, write_json, write_meta
from analysis.methods import klfitter
from analysis.methods.chi2 import Chi2Settings, best_assignment, fit_widths
from analysis.methods.transfer_functions import CATEGORIES, category, fit_all, models_from
from analysis.topology import MATCHED, TOPOLOGY

log = logging.getLogger(__name__)
KINEMATICS = ("pt", "eta", "phi", "mass", "btag")


def raw_inputs(path: str | Path) -> dict:
    data = datasets.load(path, KINEMATICS, scaled=False)
    for i, name in enumerate(KINEMATICS):
        data[name] = data["x"][..., i]
    return data


def run_chi2_widths(cfg: Config, train_path: str | Path, output: str | Path) -> dict:
    sweep_leftovers([output])
    started = now()
    data = raw_inputs(train_path)
    matched = data["category"] == MATCHED
    p4 = four_vectors(data["pt"][matched], data["eta"][matched], data["phi"][matched], data["mass"][matched])
    settings = Chi2Settings()
    w, top = cascade_masses(p4, data["targets"][matched], TOPOLOGY.cascade_slots)
    widths = fit_widths(top.ravel(), w.ravel(), settings)
    write_json(output, widths)
    write_meta(output, tag=cfg.tag, stage="chi2_widths", config=cfg.stage_config("baselines"),
               inputs=[train_path], started=started, extra=widths)
    return widths


def run_chi2(cfg: Config, n_jets: int, widths_path: str | Path, test_path: str | Path,
             outputs: dict[str, str | Path], chunk: int = 2000) -> None:
    sweep_leftovers(outputs.values())
    started = now()
    widths = json.loads(Path(widths_path).read_text())
    settings = Chi2Settings(sigma_top=widths["sigma_top"], sigma_w=widths["sigma_w"], n_jets=n_jets,
                            btag_aware=cfg.baselines.chi2_btag_aware)
    data = raw_inputs(test_path)

    def assign(part: dict, n_real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return best_assignment(part["pt"], part["eta"], part["phi"], part["mass"], part["btag"], n_real, settings)

    slots, chi2 = in_chunks(data, assign, chunk, f"chi2_{n_jets}")
    write_assignments(cfg, "chi2", f"chi2_{n_jets}", data, slots, chi2, outputs, [widths_path, test_path], started,
                      settings.__dict__)


def in_chunks(data: dict, assign, chunk: int, method: str) -> tuple[np.ndarray, np.ndarray]:
    """(slots, score) of every test event from `assign(kinematics, n_real)`, `chunk` events at a time."""
    from tqdm import tqdm

    n_real = data["mask"].sum(axis=1)
    slots, score = [np.zeros((0, len(TOPOLOGY.slots)), np.int64)], [np.zeros(0)]
    for start in tqdm(range(0, len(n_real), chunk), desc=method, unit="chunk", mininterval=30):
        part = slice(start, start + chunk)
        s, v = assign({name: data[name][part] for name in KINEMATICS}, n_real[part])
        slots.append(s)
        score.append(v)
    return np.concatenate(slots), np.concatenate(score)


def write_assignments(cfg: Config, stage: str, method: str, data: dict, slots: np.ndarray, score: np.ndarray,
                      outputs: dict[str, str | Path], inputs: list, started: str, settings: dict) -> None:
    """One assignment file per sample; events without an assignment have an infinite score."""
    for sample, output in outputs.items():
        assignments.write_sample(output, sample, data, slots, np.isfinite(score), score)
        write_meta(output, tag=cfg.tag, stage=stage, config=cfg.stage_config("baselines"), inputs=inputs,
                   started=started, extra={"method": method, "sample": sample, "settings": settings})


def response_pairs(data: dict, sample: str) -> dict[str, np.ndarray]:
    """Jet and parton energies, b or light, and jet eta of every truth-matched jet of the matched
    events of one sample of a dataset."""
    matched = (data["category"] == MATCHED) & (data["sample"] == data["samples"].index(sample))
    targets = data["targets"][matched]
    rows = np.arange(len(targets))[:, None]
    jet = {name: data[name][matched][rows, targets] for name in ("pt", "eta", "mass")}
    parton = {name: data[f"parton_{name}"][matched] for name in ("pt", "eta", "mass")}
    is_b = np.zeros(targets.shape, dtype=bool)
    is_b[:, list(TOPOLOGY.b_slots)] = True
    return {"jet_energy": energy_of(**jet).ravel(), "parton_energy": energy_of(**parton).ravel(),
            "is_b": is_b.ravel(), "eta": jet["eta"].ravel()}


def run_transfer_functions(cfg: Config, dataset_path: str | Path, output: str | Path, figure: str | Path) -> dict:
    """Crystal Ball transfer functions per category (analysis.methods.transfer_functions), their
    JSON and a figure of the fits, from the matched jets of `cfg.transfer_sample()` in the
    dataset (analysis.paths.transfer_dataset: the training set, or the test set for another
    sample)."""
    from analysis.plotting.transfer_functions import plot_transfer_functions

    sweep_leftovers([output, figure])
    started = now()
    sample = cfg.transfer_sample()
    pairs = response_pairs(raw_inputs(dataset_path), sample)
    cats = category(pairs["is_b"], pairs["eta"])
    try:
        fitted = fit_all(pairs["jet_energy"], pairs["parton_energy"], pairs["is_b"], pairs["eta"])
    except ValueError as error:
        raise ValueError(f"{dataset_path}, sample {sample!r} (baselines.klfitter.transfer_sample): {error}") from None
    borrowed = {name: f["jets_from"] for name, f in fitted.items() if f["jets_from"] != "own"}
    if borrowed:
        log.warning("too few matched training jets for their own transfer functions: %s", borrowed)
    x = (pairs["jet_energy"] - pairs["parton_energy"]) / pairs["parton_energy"]
    plot_transfer_functions(fitted, {name: (x[cats == i], pairs["parton_energy"][cats == i])
                                     for i, name in enumerate(CATEGORIES)}, figure)
    write_json(output, fitted)
    write_meta(output, tag=cfg.tag, stage="transfer_functions", config=cfg.stage_config("baselines"),
               inputs=[dataset_path], started=started,
               extra={"sample": sample, "borrowed": borrowed, "figure": str(figure)})
    return fitted


def run_klfitter(cfg: Config, n_jets: int, transfer_path: str | Path, test_path: str | Path,
                 outputs: dict[str, str | Path], chunk: int = 400) -> None:
    """The kinematic likelihood's best assignment of every test event, `chunk` events per batch;
    score = -log L of the best assignment."""
    sweep_leftovers(outputs.values())
    started = now()
    b = cfg.baselines
    settings = klfitter.LikelihoodSettings()
    likelihood = klfitter.Likelihood(models_from(json.loads(Path(transfer_path).read_text())), settings)
    data = raw_inputs(test_path)

    def assign(part: dict, n_real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        slots, value, _ = klfitter.best_assignment(likelihood, part["pt"], part["eta"], part["phi"], part["mass"],
                                                   part["btag"], n_real, n_jets, b.klfitter_btag_aware)
        return slots, value

    slots, score = in_chunks(data, assign, chunk, f"klfitter_{n_jets}")
    write_assignments(cfg, "klfitter", f"klfitter_{n_jets}", data, slots, score, outputs, [transfer_path, test_path],
                      started, settings.__dict__)
