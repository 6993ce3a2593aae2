"""Training and scoring of the q/g taggers (analysis.qg.tagger) on the dijet MC.

Jets with truth only (quark: |PDG| 1-5; gluon class: the rest, analysis.qg.samples). Each class is reweighted to a flat
(pT, |eta|) distribution (seed 004's "train on a 2D flat distribution"), so the tagger cannot
learn the kinematics that differ between the samples it will be calibrated on, and both classes
carry the same total weight. The loop, early stopping and checkpoints are analysis.core.training's.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import h5py
import numpy as np
import torch

from analysis.config import Config, QGStudy
from analysis.core.provenance import atomic_output, now, sweep_leftovers, write_meta
from analysis.core.training import Batch, TrainingSettings, epoch_timing, load_trained, pick_device, train
from analysis.datasets import H5_OPTIONS, SETS
from analysis.qg import samples as qgsamples
from analysis.qg import tagger as taggers

log = logging.getLogger(__name__)
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


def run_qg_train(cfg: Config, name: str, sample_path: str | Path, out_dir: str | Path) -> list[dict]:
    """Train tagger `name` of the config on the mc sample's training jets."""
    started = now()
    spec = cfg.qg.taggers[name]
    jets = qgsamples.load(sample_path, constituents=spec.architecture == "particle_transformer")
    train_rows, val_rows = (training_rows(jets, SETS.index(which)) for which in ("train", "val"))
    for rows, which in ((train_rows, "training"), (val_rows, "validation")):
        flavour = jets["flavour"][rows]
        if not (qgsamples.is_quark(flavour).any() and qgsamples.is_gluon(flavour).any()):
            raise ValueError(f"{sample_path}: the {which} set has no quark or no gluon jets ({len(rows)} "
                             "jets); generate more dijet events (qg.samples) or change qg.fractions")
    standardisation = None
    hyperparameters = dict(spec.hyperparameters)
    if spec.architecture == "shapes":
        x = shape_matrix(jets, train_rows)
        standardisation = {"mean": x.mean(axis=0).tolist(), "std": (x.std(axis=0) + 1e-12).tolist()}
        hyperparameters["n_features"] = len(qgsamples.SHAPE_INPUTS)
    torch.manual_seed(cfg.seed)
    model = taggers.build(spec.architecture, hyperparameters)
    settings = TrainingSettings(**asdict(cfg.qg.training), seed=cfg.seed, progress=cfg.progress)
    log.info("%s: %d training, %d validation jets; %d parameters on %s", name, len(train_rows), len(val_rows),
             sum(p.numel() for p in model.parameters()), pick_device(settings.device))
    history = train(model, weighted_bce,
                    labelled(spec.architecture, jets, train_rows, cfg.qg, standardisation),
                    labelled(spec.architecture, jets, val_rows, cfg.qg, standardisation), settings, out_dir,
                    extra={"architecture": spec.architecture, "hyperparameters": hyperparameters,
                           "standardisation": standardisation, "tagger": name})
    out_dir = Path(out_dir)
    for artifact in (out_dir / "model.pt", out_dir / "history.json"):
        write_meta(artifact, tag=cfg.tag, stage="qg_train", config=cfg.qg_config(cfg.qg.mc), inputs=[sample_path],
                   started=started, extra={"tagger": name, "train_jets": len(train_rows), "val_jets": len(val_rows),
                                           "epoch_timing": epoch_timing(history)})
    return history


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


def run_qg_score(cfg: Config, name: str, model_path: str | Path, sample_paths: Sequence[str | Path],
                 output: str | Path) -> None:
    """Tagger `name`'s output on every jet of the mc and data samples: one dataset per sample."""
    sweep_leftovers([output])
    started = now()
    model, saved = load_trained(model_path, taggers.build, pick_device(cfg.qg.training.device))
    with atomic_output(output) as tmp, h5py.File(tmp, "w") as f:
        for path in sample_paths:
            jets = qgsamples.load(path, constituents=saved["architecture"] == "particle_transformer")
            f.create_dataset(qgsamples.sample_name(path), data=score(model, saved, jets), **H5_OPTIONS)
    write_meta(output, tag=cfg.tag, stage="qg_score", config=cfg.qg_config(), inputs=[model_path, *sample_paths],
               started=started, extra={"tagger": name})
