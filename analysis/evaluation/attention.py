"""Average SAJA attention matrices per block for correctly assigned matched events (paper Fig. 12).

SAJA is blind to the order of its jets, so each event's jets can be put in truth order for the
average: the topology's slots (b, the two W+ jets, harder first, bbar, the two W- jets), then
every other jet folded into one "other" row (their mean as queries) and one "other" column
(their summed attention as keys), so that each row still sums to one.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from analysis import assignments, datasets
from analysis.config import Config
from analysis.core.provenance import now, sweep_leftovers, write_json, write_meta
from analysis.methods.networks import load_model, predict
from analysis.topology import MATCHED, TOPOLOGY

N = len(TOPOLOGY.slots)
ORDER = (*(slot.label for slot in TOPOLOGY.slots), TOPOLOGY.class_names[TOPOLOGY.other_class])
"""Rows and columns of the matrices: the slots (b, W+ (1), ...), then the other jets."""


def folded(weights: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(events, slots + 1, slots + 1): attention (events, jets, jets) with the truth jets in slot
    order and the remaining real jets folded into the last row (mean) and column (sum)."""
    n, jets, _ = weights.shape
    rows = np.arange(n)[:, None]
    others = mask.copy()
    others[rows, targets] = False
    out = np.zeros((n, N + 1, N + 1))
    truth_rows = weights[rows, targets]                      # (events, slots, jets)
    out[:, :N, :N] = np.take_along_axis(truth_rows, targets[:, None, :].repeat(N, 1), axis=2)
    out[:, :N, N] = (truth_rows * others[:, None, :]).sum(axis=2)
    count = np.maximum(others.sum(axis=1), 1)[:, None]
    other_rows = (weights * others[:, :, None]).sum(axis=1) / count  # mean over the other queries
    out[:, N, :N] = np.take_along_axis(other_rows, targets, axis=1)
    out[:, N, N] = (other_rows * others).sum(axis=1)
    return out


def average(matrices: np.ndarray, has_others: np.ndarray) -> np.ndarray:
    """Mean over events; the "other" row only over events that have other jets."""
    out = matrices.mean(axis=0)
    if has_others.any():
        out[N] = matrices[has_others, N].mean(axis=0)
    return out


@torch.no_grad()
def block_attention(model: torch.nn.Module, x: np.ndarray, mask: np.ndarray, batch_size: int = 500) -> list[np.ndarray]:
    """Each block's head-averaged attention (events, jets, jets)."""
    blocks = []
    for start in range(0, len(x), batch_size):
        part = slice(start, start + batch_size)
        _, weights = model(torch.from_numpy(x[part]), torch.from_numpy(mask[part]), return_attention=True)
        blocks.append([w.float().numpy() for w in weights])
    return [np.concatenate(per_block) for per_block in zip(*blocks, strict=True)] if blocks else []


def run_attention(cfg: Config, name: str, model_path: str | Path, test_path: str | Path, output: str | Path) -> dict:
    sweep_leftovers([output])
    started = now()
    model, saved = load_model(model_path)
    data = datasets.load(test_path, saved["features"])
    slots, valid, _, _ = predict(model, saved["architecture"], data["x"], data["mask"], data["jet_pt"])
    chosen = (data["category"] == MATCHED) & valid & assignments.correct(slots, data["targets"])
    x, mask, targets = data["x"][chosen], data["mask"][chosen], data["targets"][chosen]
    matrices = [average(folded(w, targets, mask), mask.sum(axis=1) > N).tolist() for w in
                block_attention(model, x, mask)] if len(targets) else []
    result = {"model": name, "order": list(ORDER), "events": int(chosen.sum()), "blocks": matrices}
    write_json(output, result)
    write_meta(output, tag=cfg.tag, stage="attention", config=cfg.stage_config("train"),
               inputs=[model_path, test_path], started=started, extra={"events": result["events"]})
    return result
