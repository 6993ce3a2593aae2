"""The rules of workflow/rules/baselines.smk: fit the chi^2 widths and the transfer functions on
the matched training events (`chi2_widths`, `transfer_functions`), then assign every test sample
with each baseline of analysis.methods.REGISTRY from its calibration (`baseline`, one rule for
all: chi^2 and the kinematic likelihood)."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from analysis import assignments, datasets, methods
from analysis.config import BaselineMethod, Config
from analysis.core.kinematics import cascade_masses, energy_of, four_vectors, pair_masses
from analysis.core.provenance import StageRun, stage_run, sweep_leftovers, write_json
from analysis.methods.baselines import KINEMATICS
from analysis.methods.chi2 import fit_widths, topology_settings
from analysis.methods.transfer_functions import fit_all, fit_pools
from analysis.stages._common import Files
from analysis.topology import MATCHED, TOPOLOGY, Topology

log = logging.getLogger(__name__)


def raw_inputs(path: str | Path) -> dict:
    data = datasets.load(path, KINEMATICS, scaled=False)
    for i, name in enumerate(KINEMATICS):
        data[name] = data["x"][..., i]
    return data


def run_chi2_widths(cfg: Config, input: Files, output: Files, wildcards: Files) -> dict:
    """The chi^2 resolutions of the top and W masses, and of the two-body decays' masses of the
    run's topology (t tbar H: the Higgs's m_bb), fitted on the matched events of the training set
    (`input["train"]`) -> `output["widths"]`."""
    train_path, widths_output = input["train"], output["widths"]
    with stage_run(cfg.tag, "chi2_widths", cfg.stage_config("baselines"), [widths_output],
                   inputs=[train_path]) as run:
        data = raw_inputs(train_path)
        matched = data["category"] == MATCHED
        p4 = four_vectors(data["pt"][matched], data["eta"][matched], data["phi"][matched], data["mass"][matched])
        topology, targets = cfg.topology, data["targets"][matched]
        w, top = cascade_masses(p4, targets, topology.cascade_slots)
        m_pairs = pair_masses(p4, targets, topology.pair_slots) if topology.pairs else None
        widths = fit_widths(top.ravel(), w.ravel(), topology_settings(topology), topology, m_pairs)
        write_json(widths_output, widths)
        run.extra = widths
    return widths


def run_baseline(cfg: Config, input: Files, output: Files, wildcards: Files) -> None:
    """Baseline method `wildcards["baseline"]`'s best assignment of every test event
    (`input["test"]`) among its leading jets, with its kind's calibration `input["calibration"]`
    (analysis.methods.REGISTRY's `calibration`) -> `output[sample]`; score = the registry's
    `score_name` (chi^2, -log L) of the best assignment."""
    assign_test_set(cfg.baseline_methods()[wildcards["baseline"]], cfg, input["calibration"], input["test"], output)


def assign_test_set(method: BaselineMethod, cfg: Config, calibration_path: str | Path, test_path: str | Path,
                    output: Files) -> None:
    """A baseline method's best assignment of every test event among its leading jets, given its
    kind's calibration file, `ADAPTER.chunk` events at a time, one assignment file per sample
    (`output[sample]`)."""
    outputs = {sample: output[sample] for sample in cfg.samples}
    with stage_run(cfg.tag, method.kind, cfg.stage_config("baselines"), outputs.values(),
                   inputs=[calibration_path, test_path]) as run:
        baseline = methods.get(method.kind).adapter()
        assign, settings = baseline.assigner(cfg, json.loads(Path(calibration_path).read_text()), method.n_jets,
                                             method.btag_aware)
        data = raw_inputs(test_path)
        slots, score = in_chunks(data, assign, baseline.chunk, method.name, cfg.topology)
        write_assignments(run, method.name, data, slots, score, outputs, settings)


def in_chunks(data: dict, assign, chunk: int, method: str, topology: Topology) -> tuple[np.ndarray, np.ndarray]:
    """(slots (events, the topology's slots), score) of every test event from `assign(kinematics,
    n_real)`, `chunk` events at a time."""
    from tqdm import tqdm

    n_real = data["mask"].sum(axis=1)
    slots, score = [np.zeros((0, len(topology.slots)), np.int64)], [np.zeros(0)]
    for start in tqdm(range(0, len(n_real), chunk), desc=method, unit="chunk", mininterval=30):
        part = slice(start, start + chunk)
        s, v = assign({name: data[name][part] for name in KINEMATICS}, n_real[part])
        slots.append(s)
        score.append(v)
    return np.concatenate(slots), np.concatenate(score)


def write_assignments(run: StageRun, method: str, data: dict, slots: np.ndarray, score: np.ndarray,
                      outputs: dict[str, str | Path], settings: dict) -> None:
    """One assignment file per sample, each with its sidecar; events without an assignment have
    an infinite score."""
    for sample, output in outputs.items():
        assignments.write_sample(output, sample, data, slots, np.isfinite(score), score)
        run.record(output, extra={"method": method, "sample": sample, "settings": settings})


def response_pairs(data: dict, sample: str, topology: Topology = TOPOLOGY) -> dict[str, np.ndarray]:
    """Jet and parton energies, b or light (the topology's b slots), and jet eta of every
    truth-matched jet of the matched events of one sample of a dataset."""
    matched = (data["category"] == MATCHED) & (data["sample"] == data["samples"].index(sample))
    targets = data["targets"][matched]
    rows = np.arange(len(targets))[:, None]
    jet = {name: data[name][matched][rows, targets] for name in ("pt", "eta", "mass")}
    parton = {name: data[f"parton_{name}"][matched] for name in ("pt", "eta", "mass")}
    is_b = np.zeros(targets.shape, dtype=bool)
    is_b[:, list(topology.b_slots)] = True
    return {"jet_energy": energy_of(**jet).ravel(), "parton_energy": energy_of(**parton).ravel(),
            "is_b": is_b.ravel(), "eta": jet["eta"].ravel()}


def run_transfer_functions(cfg: Config, input: Files, output: Files, wildcards: Files) -> dict:
    """Crystal Ball transfer functions per category (analysis.methods.transfer_functions), their
    JSON (`output["json"]`) and a figure of the fits (`output["figure"]`, no sidecar: the JSON's
    records it), from the matched jets of `cfg.transfer_sample()` in the dataset `input["dataset"]`
    (analysis.paths.transfer_dataset: the training set, or the test set for another sample)."""
    from analysis.plotting.transfer_functions import plot_transfer_functions

    dataset_path, figure = input["dataset"], output["figure"]
    sweep_leftovers([figure])
    with stage_run(cfg.tag, "transfer_functions", cfg.stage_config("baselines"), [output["json"]],
                   inputs=[dataset_path]) as run:
        sample = cfg.transfer_sample()
        pairs = response_pairs(raw_inputs(dataset_path), sample, cfg.topology)
        try:
            fitted = fit_all(pairs["jet_energy"], pairs["parton_energy"], pairs["is_b"], pairs["eta"])
        except ValueError as error:
            raise ValueError(f"{dataset_path}, sample {sample!r} (baselines.klfitter.transfer_sample): {error}") from None
        borrowed = {name: f["jets_from"] for name, f in fitted.items() if f["jets_from"] != "own"}
        if borrowed:
            log.warning("too few matched training jets for their own transfer functions: %s", borrowed)
        x = (pairs["jet_energy"] - pairs["parton_energy"]) / pairs["parton_energy"]
        plot_transfer_functions(fitted, {name: (x[jets], pairs["parton_energy"][jets]) for name, (_, jets)
                                         in fit_pools(pairs["is_b"], pairs["eta"]).items()}, figure)
        write_json(output["json"], fitted)
        run.extra = {"sample": sample, "borrowed": borrowed, "figure": str(figure)}
    return fitted

