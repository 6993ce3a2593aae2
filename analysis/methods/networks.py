"""The assignment networks behind one interface (training rows, tensors, loss, assignment), and
loading and batched prediction of a trained one (stages: analysis.stages.train)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from analysis import assignments, datasets, methods, topology
from analysis.core.training import batches, load_checkpoint, restore
from analysis.topology import TOPOLOGY, Topology


class NetworkAdapter(Protocol):
    """What every network module's `ADAPTER` provides (analysis.methods.REGISTRY names the module):
    the training loop, the prediction and the exports only ever call these."""

    hyperparameters: type
    """A dataclass of the architecture's hyperparameters (features plus the config's keys); the
    model it builds has `inputs` (analysis.methods.inputs.JetInputs): the raw columns it reads,
    the normalisation fitted on the training set."""

    def build(self, hyperparameters: dict, topology: Topology) -> torch.nn.Module:
        """The network for the topology's slots and classes (kept as its `topology`, which the
        loss and the decoding read)."""

    def training_rows(self, data: dict, hp, topology: Topology) -> np.ndarray:
        """The dataset rows the network with hyperparameters `hp` trains on (boolean mask)."""

    def tensors(self, data: dict, hp, topology: Topology) -> dict[str, torch.Tensor]:
        """Inputs and targets of those rows, as the loss reads them."""

    def loss(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor: ...

    def decode(self, model: torch.nn.Module, x: torch.Tensor, mask: torch.Tensor, pt: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(slots (events, slots), valid, score (lower = more confident), per-jet class
        probabilities) of raw jets `x`, the W jets of a top in order of `pt` (q1 the harder).
        Torch operations only: the ONNX graph is this function (analysis.methods.export)."""


def load_inputs(path: str | Path, model: torch.nn.Module) -> dict:
    """A dataset file with `x` = the raw jet columns that `model` reads (it normalises them itself)."""
    return datasets.load(path, model.inputs.columns, scaled=False)


def jet_inputs(data: dict) -> dict[str, torch.Tensor]:
    """The network inputs of a loaded dataset (`load_inputs`): raw jet columns and the real-jet
    mask, with the raw jet pT and the truth slots that the validation accuracy needs."""
    return {"x": torch.from_numpy(data["x"]), "mask": torch.from_numpy(data["mask"]),
            "pt": torch.from_numpy(data["jet_pt"]), "targets": torch.from_numpy(data["targets"].astype(np.int64))}


def one_particle_matched(targets: np.ndarray, topology: Topology) -> np.ndarray:
    """Events with at least one of the topology's particles (a top's b, q, q; a Higgs's b, b) fully
    matched (partial-event training)."""
    return np.any([(targets[:, list(slots)] >= 0).all(axis=1) for slots in topology.particle_slots], axis=0)


def assignment_accuracy(network: NetworkAdapter, batch_size: int = 1000) -> Callable[[torch.nn.Module, dict], float]:
    """accuracy(model, tensors): the fraction of the fully matched events among `tensors` that the
    network assigns right (its own decoding, up to the symmetries of the model's topology), the
    quantity the evaluation reports; for `training.select_by: accuracy` and the validation curves."""

    def accuracy(model: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> float:
        full = (tensors["targets"] >= 0).all(dim=1)
        events = {k: v[full] for k, v in tensors.items()}
        right = 0
        for part in batches(events, batch_size):
            slots = network.decode(model, part["x"], part["mask"], part["pt"])[0]
            right += int(assignments.correct(slots.cpu().numpy(), part["targets"].cpu().numpy(), model.topology).sum())
        return right / max(len(events["x"]), 1)

    return accuracy


def adapter(architecture: str) -> NetworkAdapter:
    """The adapter of a network architecture of the registry."""
    method = methods.get(architecture)
    if method.kind != "network":
        raise ValueError(f"{architecture!r} is a {method.kind}, not a network; networks: {methods.network_names()}")
    return method.adapter()


def build(architecture: str, hyperparameters: dict, topology: Topology = TOPOLOGY) -> torch.nn.Module:
    return adapter(architecture).build(hyperparameters, topology)


def select_rows(data: dict, keep: np.ndarray) -> dict:
    return {k: (v[keep] if isinstance(v, np.ndarray) and len(v) == len(keep) else v) for k, v in data.items()}


def load_model(path: str | Path, device: torch.device | None = None) -> tuple[torch.nn.Module, dict]:
    """(model in eval mode, everything saved with it) from a model.pt that the training wrote,
    rebuilt for the topology it was trained on."""
    saved = load_checkpoint(path)
    return restore_model(saved, device), saved


def restore_model(saved: dict, device: torch.device | None = None) -> torch.nn.Module:
    """The model of a model.pt's content (`load_checkpoint`) for its topology (`saved_topology`)."""
    trained_on = saved_topology(saved)
    return restore(saved, lambda architecture, hp: build(architecture, hp, trained_on), device)


def saved_topology(saved: dict) -> Topology:
    """The topology a model.pt was trained on: its `topology` file (relative to the repository);
    files written before models recorded it are t tbar."""
    return topology.load(topology.ROOT / saved["topology"]) if "topology" in saved else TOPOLOGY


def artifact_fields(architecture: str, hyperparameters: dict, model: torch.nn.Module, max_jets: int,
                    jet_pt_min: float, jet_eta_max: float) -> dict:
    """What model.pt carries beside the weights, so that the file alone is enough to use the
    model (analysis.api): how to rebuild it; the raw jet columns it reads, in order; the jets it
    was trained on (the skim's jet pT and abs(eta) cuts, at most `max_jets` leading ones); its
    topology file and that topology's jet classes and parton slots in the order of its outputs."""
    trained_on: Topology = model.topology
    return {"architecture": architecture, "hyperparameters": hyperparameters,
            "features": list(hyperparameters["features"]), "columns": list(model.inputs.columns),
            "max_jets": max_jets, "jet_pt_min": jet_pt_min, "jet_eta_max": jet_eta_max,
            "classes": list(trained_on.class_names), "slots": list(trained_on.slot_names),
            "topology": trained_on.file}


@torch.no_grad()
def predict(model: torch.nn.Module, architecture: str, x: np.ndarray, mask: np.ndarray, pt: np.ndarray,
            batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(slots (events, slots), valid, score, per-jet class probabilities (events, jets, classes)) in batches."""
    device = next(model.parameters()).device
    method = adapter(architecture)
    parts = []
    for start in range(0, len(x), batch_size):
        chunk = slice(start, start + batch_size)
        decoded = method.decode(model, torch.from_numpy(x[chunk]).to(device), torch.from_numpy(mask[chunk]).to(device),
                                torch.from_numpy(pt[chunk]).to(device))
        parts.append([t.cpu().numpy() for t in decoded])
    if not parts:
        return (np.zeros((0, len(model.topology.slots)), np.int64), np.zeros(0, bool), np.zeros(0),
                np.zeros((0, x.shape[1], len(model.topology.classes)), np.float32))
    return tuple(np.concatenate(p) for p in zip(*parts, strict=True))
