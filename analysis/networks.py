"""The train and predict stages of the assignment networks (rules `train`, `predict`)."""
from __future__ import annotations

import logging
from pathlib import Path

import awkward as ak
import numpy as np
import torch

from analysis import assignments, datasets
from analysis.config import Config
from analysis.matching import MATCHED
from analysis.models.saja import Saja, SajaHyperparameters, predictive_entropy, saja_loss
from analysis.provenance import now, write_meta
from analysis.training import TrainingSettings, pick_device, train

log = logging.getLogger(__name__)
ARCHITECTURES = {"saja": (Saja, SajaHyperparameters)}


def build(architecture: str, hyperparameters: dict) -> torch.nn.Module:
    model_cls, hp_cls = ARCHITECTURES[architecture]
    return model_cls(hp_cls(**hyperparameters))


def tensors(data: dict) -> dict[str, torch.Tensor]:
    return {"x": torch.from_numpy(data["x"]), "mask": torch.from_numpy(data["mask"]),
            "labels": torch.from_numpy(data["jet_label"].astype(np.int64))}


def matched_only(data: dict) -> dict:
    keep = data["category"] == MATCHED
    return {k: (v[keep] if isinstance(v, np.ndarray) and len(v) == len(keep) else v) for k, v in data.items()}


def jet_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return saja_loss(model(batch["x"], batch["mask"]), batch["labels"], batch["mask"])


def run_train(cfg: Config, name: str, train_path: str | Path, val_path: str | Path, out_dir: str | Path) -> list[dict]:
    """Train model `name` of the config on the matched events of the training and validation sets."""
    started = now()
    spec = cfg.models[name]
    train_data = matched_only(datasets.load(train_path, spec.features))
    val_data = matched_only(datasets.load(val_path, spec.features))
    hyperparameters = {"n_features": len(spec.features), **spec.hyperparameters}
    torch.manual_seed(cfg.seed)
    model = build(spec.architecture, hyperparameters)
    settings = TrainingSettings(**cfg.training, seed=cfg.seed, progress=cfg.progress)
    log.info("%s: %d training, %d validation matched events; %d parameters on %s", name,
             len(train_data["x"]), len(val_data["x"]), sum(p.numel() for p in model.parameters()),
             pick_device(settings.device))
    history = train(model, jet_loss, tensors(train_data), tensors(val_data), settings, out_dir,
                    extra={"architecture": spec.architecture, "hyperparameters": hyperparameters,
                           "features": list(spec.features), "model": name})
    out_dir = Path(out_dir)
    for artifact in (out_dir / "model.pt", out_dir / "history.json"):
        write_meta(artifact, tag=cfg.tag, stage="train", config=cfg.stage_config("train"),
                   inputs=[train_path, val_path], started=started,
                   extra={"model": name, "train_events": len(train_data["x"]), "val_events": len(val_data["x"])})
    return history


def load_model(path: str | Path, device: torch.device | None = None) -> tuple[torch.nn.Module, dict]:
    saved = torch.load(path, map_location="cpu", weights_only=False)
    model = build(saved["architecture"], saved["hyperparameters"])
    model.load_state_dict(saved["state_dict"])
    return model.to(device or torch.device("cpu")).eval(), saved


@torch.no_grad()
def predict(model: torch.nn.Module, x: np.ndarray, mask: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Class probabilities (events, jets, 5)."""
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(x), batch_size):
        xb = torch.from_numpy(x[start:start + batch_size]).to(device)
        mb = torch.from_numpy(mask[start:start + batch_size]).to(device)
        out.append(torch.softmax(model(xb, mb).float(), dim=-1).cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, x.shape[1], 5), dtype=np.float32)


def run_predict(cfg: Config, name: str, model_path: str | Path, test_path: str | Path,
                outputs: dict[str, str | Path]) -> None:
    """Assignments of model `name` for every sample of the test set, in the common format."""
    started = now()
    model, saved = load_model(model_path, pick_device(cfg.training.get("device", "auto")))
    data = datasets.load(test_path, saved["features"])
    raw_pt = datasets.load(test_path, ["pt"], scaled=False)["x"][..., 0]
    probabilities = predict(model, data["x"], data["mask"])
    mask = data["mask"]
    entropy = predictive_entropy(torch.from_numpy(probabilities), torch.from_numpy(mask)).numpy()
    slots, valid = assignments.slots_from_jet_classes(probabilities.argmax(axis=-1), mask, raw_pt)
    for sample, output in outputs.items():
        rows = data["sample"] == data["samples"].index(sample)
        n_jets = mask[rows].sum(axis=1)
        assignments.write(output, {
            "sample": np.full(rows.sum(), sample), "file": data["file"][rows].astype(str), "event": data["event"][rows],
            "category": data["category"][rows], "weight_pb": data["weight_pb"][rows],
            "n_jets": data["n_jets"][rows], "truth": data["targets"][rows], "assignment": slots[rows],
            "valid": valid[rows], "score": entropy[rows].astype(np.float64),
            "probabilities": ak.unflatten(probabilities[rows][mask[rows]], n_jets),
        })
        write_meta(output, tag=cfg.tag, stage="predict", config=cfg.stage_config("train"),
                   inputs=[model_path, test_path], started=started,
                   extra={"method": name, "sample": sample, "events": int(rows.sum()),
                          "valid_fraction": float(valid[rows].mean()) if rows.any() else 0.0})
