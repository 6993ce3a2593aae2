"""The assignment networks behind one interface (training rows, tensors, loss, assignment), and
loading and batched prediction of a trained one (stages: analysis.stages.train)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from analysis import assignments
from analysis.core.training import load_trained
from analysis.matching import MATCHED
from analysis.methods.saja import Saja, SajaHyperparameters, predictive_entropy, saja_loss
from analysis.methods.spanet import Spanet, SpanetHyperparameters, jet_marginals, resolve, spanet_loss


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
    """SPA-NET: one triplet distribution per top; trained on events with at least one fully
    matched top (partial-event training)."""

    model, hyperparameters = Spanet, SpanetHyperparameters

    @staticmethod
    def training_rows(data: dict) -> np.ndarray:
        targets = data["targets"]
        return (targets[:, :3] >= 0).all(axis=1) | (targets[:, 3:] >= 0).all(axis=1)

    @staticmethod
    def tensors(data: dict) -> dict[str, torch.Tensor]:
        return {**jet_inputs(data), "targets": torch.from_numpy(data["targets"].astype(np.int64))}

    @staticmethod
    def loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return spanet_loss(model(batch["x"], batch["mask"]), batch["targets"])

    @staticmethod
    def assign(model: torch.nn.Module, x: torch.Tensor, mask: torch.Tensor, pt: np.ndarray):
        """Score: -log of the two chosen triplets' probabilities (lower = more confident)."""
        log_p = model(x, mask).float()
        triplets, log_prob = resolve(log_p)
        triplets = triplets.cpu().numpy()
        rows = np.arange(len(triplets))[:, None]
        slots = []
        for head in range(2):
            b, qa, qb = triplets[:, head, 0], triplets[:, head, 1], triplets[:, head, 2]
            a_harder = pt[rows[:, 0], qa] >= pt[rows[:, 0], qb]
            slots += [b, np.where(a_harder, qa, qb), np.where(a_harder, qb, qa)]
        valid = mask.sum(dim=1).cpu().numpy() >= len(slots)
        score = -log_prob.sum(dim=1).cpu().numpy()
        return np.stack(slots, axis=1), valid, score, jet_marginals(log_p, mask).cpu().numpy()


ARCHITECTURES = {"saja": SajaMethod, "spanet": SpanetMethod}


def build(architecture: str, hyperparameters: dict) -> torch.nn.Module:
    method = ARCHITECTURES[architecture]
    return method.model(method.hyperparameters(**hyperparameters))


def select_rows(data: dict, keep: np.ndarray) -> dict:
    return {k: (v[keep] if isinstance(v, np.ndarray) and len(v) == len(keep) else v) for k, v in data.items()}


def load_model(path: str | Path, device: torch.device | None = None) -> tuple[torch.nn.Module, dict]:
    return load_trained(path, build, device)


@torch.no_grad()
def predict(model: torch.nn.Module, architecture: str, x: np.ndarray, mask: np.ndarray, pt: np.ndarray,
            batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(slots (events, 6), valid, score, per-jet class probabilities (events, jets, 5)) in batches."""
    device = next(model.parameters()).device
    method = ARCHITECTURES[architecture]
    parts = []
    for start in range(0, len(x), batch_size):
        chunk = slice(start, start + batch_size)
        parts.append(method.assign(model, torch.from_numpy(x[chunk]).to(device),
                                   torch.from_numpy(mask[chunk]).to(device), pt[chunk]))
    if not parts:
        return (np.zeros((0, 6), np.int64), np.zeros(0, bool), np.zeros(0), np.zeros((0, x.shape[1], 5), np.float32))
    return tuple(np.concatenate(p) for p in zip(*parts, strict=True))
