"""The train and predict stages of the assignment networks (rules `train`, `predict`)."""
from __future__ import annotations

import logging
from pathlib import Path

import awkward as ak
import numpy as np
import torch

from analysis import assignments, datasets
from analysis.config import Config
from analysis.core.provenance import now, sweep_leftovers, write_meta
from analysis.core.training import TrainingSettings, epoch_timing, load_trained, pick_device, train
from analysis.methods.saja import Saja, SajaHyperparameters, predictive_entropy, saja_loss
from analysis.methods.spanet import Spanet, SpanetHyperparameters, jet_marginals, resolve, spanet_loss
from analysis.topology import MATCHED, TOPOLOGY

log = logging.getLogger(__name__)


def jet_inputs(data: dict) -> dict[str, torch.Tensor]:
    """The network inputs of a loaded dataset: scaled features and the real-jet mask."""
    return {"x": torch.from_numpy(data["x"]), "mask": torch.from_numpy(data["mask"])}


class SajaMethod:
    """SAJA: jet-wise classes; trained on fully matched events."""

    model, hyperparameters = Saja, SajaHyperparameters

    @staticmethod
    def training_rows(data: dict) -> np.ndarray:
        return data["category"] == MATCHED

    @staticmethod
    def tensors(data: dict) -> dict[str, torch.Tensor]:
        return {**jet_inputs(data), "labels": torch.from_numpy(data["jet_label"].astype(np.int64))}

    @staticmethod
    def loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return saja_loss(model(batch["x"], batch["mask"]), batch["labels"], batch["mask"])

    @staticmethod
    def assign(model: torch.nn.Module, x: torch.Tensor, mask: torch.Tensor, pt: np.ndarray):
        probabilities = torch.softmax(model(x, mask).float(), dim=-1)
        entropy = predictive_entropy(probabilities, mask).cpu().numpy()
        probabilities = probabilities.cpu().numpy()
        mask = mask.cpu().numpy()
        slots, valid = assignments.slots_from_jet_classes(probabilities.argmax(axis=-1), mask, pt)
        return slots, valid, entropy, probabilities


class SpanetMethod:
    """SPA-NET: one triplet distribution per top (the topology's cascades); trained on events
    with at least one fully matched top (partial-event training)."""

    model, hyperparameters = Spanet, SpanetHyperparameters

    @staticmethod
    def training_rows(data: dict) -> np.ndarray:
        targets = data["targets"]
        return np.any([(targets[:, list(top)] >= 0).all(axis=1) for top in TOPOLOGY.cascade_slots], axis=0)

    @staticmethod
    def tensors(data: dict) -> dict[str, torch.Tensor]:
        return {**jet_inputs(data), "targets": torch.from_numpy(data["targets"].astype(np.int64))}

    @staticmethod
    def loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return spanet_loss(model(batch["x"], batch["mask"]), batch["targets"])

    @staticmethod
    def assign(model: torch.nn.Module, x: torch.Tensor, mask: torch.Tensor, pt: np.ndarray):
        """Score: -log of the two chosen triplets' probabilities (lower = more confident). The
        W's jets fill its slots in pT order (q1 the harder)."""
        log_p = model(x, mask).float()
        triplets, log_prob = resolve(log_p)
        triplets = triplets.cpu().numpy()
        rows = np.arange(len(triplets))
        slots = np.empty((len(triplets), len(TOPOLOGY.slots)), dtype=triplets.dtype)
        for head, top in enumerate(TOPOLOGY.cascades):
            b, qa, qb = triplets[:, head, 0], triplets[:, head, 1], triplets[:, head, 2]
            a_harder = pt[rows, qa] >= pt[rows, qb]
            slots[:, top.spectator] = b
            slots[:, list(top.pair)] = np.stack([np.where(a_harder, qa, qb), np.where(a_harder, qb, qa)], axis=1)
        valid = mask.sum(dim=1).cpu().numpy() >= len(TOPOLOGY.slots)
        score = -log_prob.sum(dim=1).cpu().numpy()
        return slots, valid, score, jet_marginals(log_p, mask).cpu().numpy()


ARCHITECTURES = {"saja": SajaMethod, "spanet": SpanetMethod}


def build(architecture: str, hyperparameters: dict) -> torch.nn.Module:
    method = ARCHITECTURES[architecture]
    return method.model(method.hyperparameters(**hyperparameters))


def select_rows(data: dict, keep: np.ndarray) -> dict:
    return {k: (v[keep] if isinstance(v, np.ndarray) and len(v) == len(keep) else v) for k, v in data.items()}


def run_train(cfg: Config, name: str, train_path: str | Path, val_path: str | Path, out_dir: str | Path) -> list[dict]:
    """Train model `name` of the config on the matched events of the training and validation sets."""
    started = now()
    spec = cfg.models[name]
    method = ARCHITECTURES[spec.architecture]
    train_data, val_data = (datasets.load(path, spec.features) for path in (train_path, val_path))
    train_data = select_rows(train_data, method.training_rows(train_data))
    val_data = select_rows(val_data, method.training_rows(val_data))
    hyperparameters = {"n_features": len(spec.features), **spec.hyperparameters}
    torch.manual_seed(cfg.seed)
    model = build(spec.architecture, hyperparameters)
    settings = TrainingSettings(**cfg.training, seed=cfg.seed, progress=cfg.progress)
    log.info("%s: %d training, %d validation matched events; %d parameters on %s", name,
             len(train_data["x"]), len(val_data["x"]), sum(p.numel() for p in model.parameters()),
             pick_device(settings.device))
    history = train(model, method.loss, method.tensors(train_data), method.tensors(val_data), settings, out_dir,
                    extra={"architecture": spec.architecture, "hyperparameters": hyperparameters,
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
    """(slots (events, slots), valid, score, per-jet class probabilities (events, jets, classes)) in batches."""
    device = next(model.parameters()).device
    method = ARCHITECTURES[architecture]
    parts = []
    for start in range(0, len(x), batch_size):
        chunk = slice(start, start + batch_size)
        parts.append(method.assign(model, torch.from_numpy(x[chunk]).to(device),
                                   torch.from_numpy(mask[chunk]).to(device), pt[chunk]))
    if not parts:
        return (np.zeros((0, len(TOPOLOGY.slots)), np.int64), np.zeros(0, bool), np.zeros(0),
                np.zeros((0, x.shape[1], len(TOPOLOGY.classes)), np.float32))
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
