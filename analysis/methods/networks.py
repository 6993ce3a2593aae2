"""The assignment networks behind one interface (training rows, tensors, loss, assignment), and
loading and batched prediction of a trained one (stages: analysis.stages.train)."""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from analysis import methods
from analysis.core.training import load_trained
from analysis.topology import TOPOLOGY


class NetworkAdapter(Protocol):
    """What every network module's `ADAPTER` provides (analysis.methods.REGISTRY names the module):
    the training loop, the prediction and the exports only ever call these."""

    hyperparameters: type
    """A dataclass of the architecture's hyperparameters (n_features plus the config's keys)."""

    def build(self, hyperparameters: dict) -> torch.nn.Module: ...

    def training_rows(self, data: dict) -> np.ndarray:
        """The dataset rows the network trains on (boolean mask)."""

    def tensors(self, data: dict) -> dict[str, torch.Tensor]:
        """Inputs and targets of those rows, as the loss reads them."""

    def loss(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor: ...

    def assign(self, model: torch.nn.Module, x: torch.Tensor, mask: torch.Tensor, pt: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(slots (events, 6), valid, score (lower = more confident), per-jet class probabilities)."""


def jet_inputs(data: dict) -> dict[str, torch.Tensor]:
    """The network inputs of a loaded dataset: scaled features and the real-jet mask."""
    return {"x": torch.from_numpy(data["x"]), "mask": torch.from_numpy(data["mask"])}


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


def load_model(path: str | Path, device: torch.device | None = None) -> tuple[torch.nn.Module, dict]:
    return load_trained(path, build, device)


@torch.no_grad()
def predict(model: torch.nn.Module, architecture: str, x: np.ndarray, mask: np.ndarray, pt: np.ndarray,
            batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(slots (events, slots), valid, score, per-jet class probabilities (events, jets, classes)) in batches."""
    device = next(model.parameters()).device
    method = adapter(architecture)
    parts = []
    for start in range(0, len(x), batch_size):
        chunk = slice(start, start + batch_size)
        parts.append(method.assign(model, torch.from_numpy(x[chunk]).to(device),
                                   torch.from_numpy(mask[chunk]).to(device), pt[chunk]))
    if not parts:
        return (np.zeros((0, len(TOPOLOGY.slots)), np.int64), np.zeros(0, bool), np.zeros(0),
                np.zeros((0, x.shape[1], len(TOPOLOGY.classes)), np.float32))
    return tuple(np.concatenate(p) for p in zip(*parts, strict=True))
