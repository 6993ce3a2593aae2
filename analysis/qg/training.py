"""Training and scoring of the q/g taggers (analysis.qg.tagger) on the dijet MC.

Jets with truth only (quark: |PDG| 1-5; gluon class: the rest, analysis.qg.samples). Each class is reweighted to a flat
(pT, |eta|) distribution (seed 004's "train on a 2D flat distribution"), so the tagger cannot
learn the kinematics that differ between the samples it will be calibrated on, and both classes
carry the same total weight. The loop, early stopping and checkpoints are analysis.core.training's.
"""
from __future__ import annotations

import numpy as np
import torch

from analysis.config import QGStudy
from analysis.core.training import Batch
from analysis.qg import samples as qgsamples

SCORE_BATCH = 2048


def flat_weights(pt: np.ndarray, abs_eta: np.ndarray, quark: np.ndarray, bins: tuple[int, int],
                 eta_max: float) -> np.ndarray:
    """Per-jet weights making each class flat in (log pT, |eta|) bins, each class summing to half
    the number of jets (mean weight 1)."""
    pt_edges = np.geomspace(pt.min(), pt.max() * (1 + 1e-9), bins[0] + 1)
    eta_edges = np.linspace(0.0, eta_max, bins[1] + 1)
    cell = (np.clip(np.searchsorted(pt_edges, pt, side="right") - 1, 0, bins[0] - 1) * bins[1]
            + np.clip(np.searchsorted(eta_edges, abs_eta, side="right") - 1, 0, bins[1] - 1))
    weights = np.zeros(len(pt))
    for is_class in (quark, ~quark):
        counts = np.bincount(cell[is_class], minlength=bins[0] * bins[1])
        raw = 1.0 / counts[cell[is_class]]
        weights[is_class] = raw * (0.5 * len(pt) / raw.sum())
    return weights


def inputs(architecture: str, jets: dict[str, np.ndarray], rows: np.ndarray,
           standardisation: dict | None = None) -> dict[str, torch.Tensor]:
    """The tagger's input tensors for `rows` of a q/g sample."""
    if architecture == "particle_transformer":
        return {"raw": torch.from_numpy(jets["constituents"][rows]),
                "mask": torch.from_numpy(jets["mask"][rows])}
    x = shape_matrix(jets, rows)
    mean, std = np.asarray(standardisation["mean"]), np.asarray(standardisation["std"])
    return {"x": torch.from_numpy(((x - mean) / std).astype(np.float32))}


def shape_matrix(jets: dict[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
    """(rows, features) of the shape baseline's inputs, in SHAPE_INPUTS order."""
    return np.stack([jets[f"shape_{name}"][rows] for name in qgsamples.SHAPE_INPUTS], axis=1)


def logits(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    if "x" in batch:
        return model(batch["x"])
    return model(batch["raw"], batch["mask"])


def weighted_bce(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits(model, batch).float(), batch["label"],
                                                                reduction="none")
    return (loss * batch["weight"]).sum() / batch["weight"].sum()


def training_rows(jets: dict[str, np.ndarray], set_index: int) -> np.ndarray:
    flavour = jets["flavour"]
    return np.flatnonzero((jets["set"] == set_index) & (qgsamples.is_quark(flavour) | qgsamples.is_gluon(flavour)))


def labelled(architecture: str, jets: dict[str, np.ndarray], rows: np.ndarray, study: QGStudy,
             standardisation: dict | None) -> dict[str, torch.Tensor]:
    quark = qgsamples.is_quark(jets["flavour"][rows])
    weight = flat_weights(jets["pt"][rows], np.abs(jets["eta"][rows]), quark, study.flat_bins, study.jet_eta_max)
    return {**inputs(architecture, jets, rows, standardisation),
            "label": torch.from_numpy(quark.astype(np.float32)), "weight": torch.from_numpy(weight.astype(np.float32))}


@torch.no_grad()
def score(model: torch.nn.Module, saved: dict, jets: dict[str, np.ndarray]) -> np.ndarray:
    """The tagger output (quark probability) of every jet, in batches."""
    device = next(model.parameters()).device
    parts = []
    for start in range(0, len(jets["pt"]), SCORE_BATCH):
        rows = np.arange(start, min(start + SCORE_BATCH, len(jets["pt"])))
        batch = {k: v.to(device) for k, v in inputs(saved["architecture"], jets, rows, saved["standardisation"]).items()}
        parts.append(torch.sigmoid(logits(model, batch).float()).cpu().numpy())
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)
