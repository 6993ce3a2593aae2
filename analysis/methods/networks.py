"""The train and predict stages of the assignment networks (rules `train`, `predict`)."""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import awkward as ak
import numpy as np
import torch

from analysis import assignments, datasets, methods
from analysis.config import Config
from analysis.core.provenance import now, sweep_leftovers, write_meta
from analysis.core.training import TrainingSettings, epoch_timing, load_trained, pick_device, train

log = logging.getLogger(__name__)


class NetworkAdapter(Protocol):
    """What every network module's `ADAPTER` provides (analysis.methods.REGISTRY names the module):
    the training loop, the prediction and the exports only ever call these."""

    hyperparameters: type
    """A dataclass of the architecture's hyperparameters (n_features plus the config's keys)."""

    def build(self, hyperparameters: dict) -> torch.nn.Module: ...

    def training_rows(self, data: dict, hp) -> np.ndarray:
        """The dataset rows the network with hyperparameters `hp` trains on (boolean mask)."""

    def tensors(self, data: dict, hp) -> dict[str, torch.Tensor]:
        """Inputs and targets of those rows, as the loss reads them."""

    def loss(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor: ...

    def assign(self, model: torch.nn.Module, x: torch.Tensor, mask: torch.Tensor, pt: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(slots (events, 6), valid, score (lower = more confident), per-jet class probabilities)."""


def jet_inputs(data: dict) -> dict[str, torch.Tensor]:
    """The network inputs of a loaded dataset: scaled features and the real-jet mask, with the
    raw jet pT and the truth slots that the validation accuracy needs."""
    return {"x": torch.from_numpy(data["x"]), "mask": torch.from_numpy(data["mask"]),
            "pt": torch.from_numpy(data["jet_pt"]), "targets": torch.from_numpy(data["targets"].astype(np.int64))}


def one_top_matched(targets: np.ndarray) -> np.ndarray:
    """Events with at least one top's three partons matched (partial-event training)."""
    return (targets[:, :3] >= 0).all(axis=1) | (targets[:, 3:] >= 0).all(axis=1)


def assignment_accuracy(network: NetworkAdapter, batch_size: int = 1000) -> Callable[[torch.nn.Module, dict], float]:
    """accuracy(model, tensors): the fraction of the fully matched events among `tensors` that the
    network assigns right (its own decoding, up to t <-> tbar and q1 <-> q2), the quantity the
    evaluation reports; for `training.select_by: accuracy` and the validation curves."""

    def accuracy(model: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> float:
        full = (tensors["targets"] >= 0).all(dim=1)
        events = {k: v[full] for k, v in tensors.items()}
        right = 0
        for start in range(0, len(events["x"]), batch_size):
            part = {k: v[start:start + batch_size] for k, v in events.items()}
            slots = network.assign(model, part["x"], part["mask"], part["pt"].cpu().numpy())[0]
            right += int(assignments.correct(slots, part["targets"].cpu().numpy()).sum())
        return right / max(len(events["x"]), 1)

    return accuracy


def adapter(architecture: str) -> NetworkAdapter:
    """The adapter of a network architecture of the registry."""
    method = methods.get(architecture)
    if method.kind != "network":
        raise ValueError(f"{architecture!r} is a {method.kind}, not a network; networks: {methods.network_names()}")
    return method.adapter()


def build(architecture: str, hyperparameters: dict) -> torch.nn.Module:
    return adapter(architecture).build(hyperparameters)


def select_rows(data: dict, keep: np.ndarray) -> dict:
    return {k: (v[keep] if isinstance(v, np.ndarray) and len(v) == len(keep) else v) for k, v in data.items()}


def run_train(cfg: Config, name: str, train_path: str | Path, val_path: str | Path, out_dir: str | Path) -> list[dict]:
    """Train model `name` of the config on the matched events of the training and validation sets."""
    started = now()
    spec = cfg.models[name]
    method = adapter(spec.architecture)
    hyperparameters = {"n_features": len(spec.features), **spec.hyperparameters}
    hp = method.hyperparameters(**hyperparameters)
    train_data, val_data = (datasets.load(path, spec.features) for path in (train_path, val_path))
    train_data = select_rows(train_data, method.training_rows(train_data, hp))
    val_data = select_rows(val_data, method.training_rows(val_data, hp))
    torch.manual_seed(cfg.seed)
    model = build(spec.architecture, hyperparameters)
    settings = TrainingSettings(**cfg.training, seed=cfg.seed, progress=cfg.progress)
    log.info("%s: %d training, %d validation matched events; %d parameters on %s", name,
             len(train_data["x"]), len(val_data["x"]), sum(p.numel() for p in model.parameters()),
             pick_device(settings.device))
    history = train(model, method.loss, method.tensors(train_data, hp), method.tensors(val_data, hp), settings, out_dir,
                    accuracy_fn=assignment_accuracy(method), extra={"architecture": spec.architecture, "hyperparameters": hyperparameters,
                           "features": list(spec.features), "model": name})
    out_dir = Path(out_dir)
    for artifact in (out_dir / "model.pt", out_dir / "history.json"):
        write_meta(artifact, tag=cfg.tag, stage="train", config=cfg.stage_config("train"),
                   inputs=[train_path, val_path], started=started,
                   extra={"model": name, "train_events": len(train_data["x"]), "val_events": len(val_data["x"]),
                          "epoch_timing": epoch_timing(history)})
    return history


def load_model(path: str | Path, device: torch.device | None = None) -> tuple[torch.nn.Module, dict]:
    return load_trained(path, build, device)


@torch.no_grad()
def predict(model: torch.nn.Module, architecture: str, x: np.ndarray, mask: np.ndarray, pt: np.ndarray,
            batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(slots (events, 6), valid, score, per-jet class probabilities (events, jets, 5)) in batches."""
    device = next(model.parameters()).device
    method = adapter(architecture)
    parts = []
    for start in range(0, len(x), batch_size):
        chunk = slice(start, start + batch_size)
        parts.append(method.assign(model, torch.from_numpy(x[chunk]).to(device),
                                   torch.from_numpy(mask[chunk]).to(device), pt[chunk]))
    if not parts:
        return (np.zeros((0, 6), np.int64), np.zeros(0, bool), np.zeros(0), np.zeros((0, x.shape[1], 5), np.float32))
    return tuple(np.concatenate(p) for p in zip(*parts, strict=True))


def run_predict(cfg: Config, name: str, model_path: str | Path, test_path: str | Path,
                outputs: dict[str, str | Path]) -> None:
    """Assignments of model `name` for every sample of the test set, in the common format."""
    sweep_leftovers(outputs.values())
    started = now()
    model, saved = load_model(model_path, pick_device(cfg.training.get("device", "auto")))
    data = datasets.load(test_path, saved["features"])
    mask = data["mask"]
    slots, valid, score, probabilities = predict(model, saved["architecture"], data["x"], mask, data["jet_pt"])
    for sample, output in outputs.items():
        rows = data["sample"] == data["samples"].index(sample)
        per_jet = ak.unflatten(probabilities[rows][mask[rows]], mask[rows].sum(axis=1))
        assignments.write_sample(output, sample, data, slots, valid, score, per_jet)
        write_meta(output, tag=cfg.tag, stage="predict", config=cfg.stage_config("train"),
                   inputs=[model_path, test_path], started=started,
                   extra={"method": name, "sample": sample, "events": int(rows.sum()),
                          "valid_fraction": float(valid[rows].mean()) if rows.any() else 0.0})
