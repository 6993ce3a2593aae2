"""The rules of workflow/rules/train.smk: `train` and `predict` for the assignment networks of the
config, and `export_onnx` of a trained network."""
from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import awkward as ak
import numpy as np
import torch

from analysis import __version__, assignments
from analysis.config import Config
from analysis.core.provenance import config_hash, stage_run
from analysis.core.training import TrainingSettings, epoch_timing, pick_device, train_screened
from analysis.methods.export import compare, export
from analysis.methods.networks import (
    adapter,
    artifact_fields,
    assignment_accuracy,
    build,
    load_inputs,
    load_model,
    predict,
    select_rows,
)
from analysis.stages._common import Files

log = logging.getLogger(__name__)


def run_train(cfg: Config, input: Files, output: Files, wildcards: Files) -> list[dict]:
    """Train model `wildcards["model"]` of the config on the matched events of the training and
    validation sets (`input["train"]`, `input["val"]`) -> `output["model"]`, `output["history"]`;
    with `wildcards["fraction"]` (rule `train_fraction`, the learning curve), on that fraction of
    its training events only."""
    name = wildcards["model"]
    stage_config = cfg.rule_config("train", model=name)
    with stage_run(cfg.tag, "train", stage_config, [output["model"], output["history"]],
                   inputs=[input["train"], input["val"]]) as run:
        fraction = float(wildcards["fraction"]) if "fraction" in wildcards.keys() else None
        history, counts = fit_network(cfg, name, input["train"], input["val"], Path(output["model"]).parent,
                                      cfg.seed, fraction)
        run.extra = {"model": name, **counts, "epoch_timing": epoch_timing(history)}
    return history


def fit_network(cfg: Config, name: str, train_path: str | Path, val_path: str | Path, out_dir: Path, seed: int,
                fraction: float | None = None) -> tuple[list[dict], dict[str, int]]:
    """Train the config's network `name` with `seed` (its initial weights, batches and dropout)
    -> model.pt and history.json in `out_dir`; on `fraction` of its training events when given.
    Returns the history and the numbers of training and validation events."""
    spec = cfg.models[name]
    method = adapter(spec.architecture)
    hyperparameters = {"features": list(spec.features), **spec.hyperparameters}
    hp = method.hyperparameters(**hyperparameters)
    model = build(spec.architecture, hyperparameters, cfg.topology)
    train_data, val_data = (load_inputs(path, model) for path in (train_path, val_path))
    model.inputs.fit(torch.from_numpy(train_data["x"]), torch.from_numpy(train_data["mask"]))

    def initialised(candidate_seed: int) -> torch.nn.Module:
        """The network with `candidate_seed`'s initial weights and the input scaling fitted above
        on the training set (buffers only, the same for every candidate)."""
        torch.manual_seed(candidate_seed)
        candidate = build(spec.architecture, hyperparameters, cfg.topology)
        candidate.inputs.load_state_dict(model.inputs.state_dict())
        return candidate

    train_data = select_rows(train_data, method.training_rows(train_data, hp, cfg.topology))
    if fraction is not None:
        train_data = select_rows(train_data, training_subset(len(train_data["x"]), fraction, seed))
    val_data = select_rows(val_data, method.training_rows(val_data, hp, cfg.topology))
    settings = TrainingSettings(**asdict(cfg.training), seed=seed, progress=cfg.progress)
    log.info("%s: %d training, %d validation matched events; %d parameters on %s", name,
             len(train_data["x"]), len(val_data["x"]), sum(p.numel() for p in model.parameters()),
             pick_device(settings.device))
    extra = {**artifact_fields(spec.architecture, hyperparameters, model, cfg.datasets.max_jets,
                               cfg.cuts.jet_pt_min, cfg.cuts.jet_eta_max),
             "model": name, "train_events": len(train_data["x"])}
    history = train_screened(initialised, method.loss, method.tensors(train_data, hp, cfg.topology),
                             method.tensors(val_data, hp, cfg.topology),
                             settings, out_dir, extra=extra, accuracy_fn=assignment_accuracy(method),
                             provenance={"version": __version__, "config_hash": config_hash(cfg.rule_config("train", model=name))})
    return history, {"train_events": len(train_data["x"]), "val_events": len(val_data["x"])}


def training_subset(n_events: int, fraction: float, seed: int) -> np.ndarray:
    """The first `fraction` of a seeded permutation of `n_events` training events (boolean mask):
    the same events for the same seed, and each smaller fraction a subset of the larger ones."""
    chosen = np.random.default_rng(seed).permutation(n_events)[:max(round(fraction * n_events), 1)]
    keep = np.zeros(n_events, dtype=bool)
    keep[chosen] = True
    return keep


def run_predict(cfg: Config, input: Files, output: Files, wildcards: Files) -> None:
    """Assignments of model `wildcards["model"]` (`input["model"]`) for every sample of the test
    set (`input["test"]`), in the common format: `output[sample]`."""
    name, model_path, test_path = wildcards["model"], input["model"], input["test"]
    outputs = {sample: output[sample] for sample in cfg.samples}
    with stage_run(cfg.tag, "predict", cfg.rule_config("predict", model=name), outputs.values(),
                   inputs=[model_path, test_path]) as run:
        model, saved = load_model(model_path, pick_device(cfg.training.device))
        data = load_inputs(test_path, model)
        mask = data["mask"]
        slots, valid, score, probabilities = predict(model, saved["architecture"], data["x"], mask, data["jet_pt"])
        for sample, path in outputs.items():
            rows = data["sample"] == data["samples"].index(sample)
            per_jet = ak.unflatten(probabilities[rows][mask[rows]], mask[rows].sum(axis=1))
            assignments.write_sample(path, sample, data, slots, valid, score, per_jet)
            run.record(path, extra={"method": name, "sample": sample, "events": int(rows.sum()),
                                    "valid_fraction": float(valid[rows].mean()) if rows.any() else 0.0})


def run_export_onnx(cfg: Config, input: Files, output: Files, wildcards: Files) -> dict:
    """`input["model"]` (a trained network) with its decoding as ONNX -> `output["onnx"]`; ONNX
    Runtime must give the same assignments as torch on every event of `input["test"]`."""
    model_path, onnx = input["model"], output["onnx"]
    name = wildcards["model"]
    with stage_run(cfg.tag, "export", cfg.rule_config("export_onnx", model=name), [onnx],
                   inputs=[model_path, input["test"]]) as run:
        model, saved = load_model(model_path)
        export(model, saved["architecture"], onnx,
               {"model": name, "train_config_hash": config_hash(cfg.rule_config("train", model=name))})
        test = load_inputs(input["test"], model)
        check = compare(model, saved["architecture"], onnx, test["x"], test["mask"])
        if check["assignments_differing"] or check["max_abs_probability_difference"] > 1e-4:
            raise RuntimeError(f"{onnx}: ONNX Runtime and torch disagree on {input['test']}: {check}")
        run.extra = {**check, "features": saved["features"]}
    return check
