"""Average SAJA attention matrices per block for correctly assigned matched events (paper Fig. 12).

SAJA is blind to the order of its jets, so each event's jets can be put in truth order for the
average: the topology's slots (b, the two W+ jets, harder first, bbar, the two W- jets), then
every other jet folded into one "other" row (their mean as queries) and one "other" column
(their summed attention as keys), so that each row still sums to one.
"""
from __future__ import annotations

import numpy as np
import torch

from analysis.methods.networks import adapter
from analysis.topology import Topology


def order(topology: Topology) -> tuple[str, ...]:
    """Rows and columns of the matrices: the slots (b, W+ (1), ...), then the other jets."""
    return *(slot.label for slot in topology.slots), topology.class_names[topology.other_class]


def folded(weights: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(events, slots + 1, slots + 1): attention (events, jets, jets) with the truth jets
    (`targets` (events, slots)) in slot order and the remaining real jets folded into the last
    row (mean) and column (sum)."""
    n, jets, _ = weights.shape
    n_slots = targets.shape[1]
    rows = np.arange(n)[:, None]
    others = mask.copy()
    others[rows, targets] = False
    out = np.zeros((n, n_slots + 1, n_slots + 1))
    truth_rows = weights[rows, targets]                      # (events, slots, jets)
    out[:, :n_slots, :n_slots] = np.take_along_axis(truth_rows, targets[:, None, :].repeat(n_slots, 1), axis=2)
    out[:, :n_slots, n_slots] = (truth_rows * others[:, None, :]).sum(axis=2)
    count = np.maximum(others.sum(axis=1), 1)[:, None]
    other_rows = (weights * others[:, :, None]).sum(axis=1) / count  # mean over the other queries
    out[:, n_slots, :n_slots] = np.take_along_axis(other_rows, targets, axis=1)
    out[:, n_slots, n_slots] = (other_rows * others).sum(axis=1)
    return out


def average(matrices: np.ndarray, has_others: np.ndarray) -> np.ndarray:
    """Mean over events; the "other" row (the last) only over events that have other jets."""
    out = matrices.mean(axis=0)
    if has_others.any():
        out[-1] = matrices[has_others, -1].mean(axis=0)
    return out


@torch.no_grad()
def block_attention(model: torch.nn.Module, architecture: str, x: np.ndarray, mask: np.ndarray,
                    batch_size: int = 500) -> list[np.ndarray]:
    """Each block's head-averaged attention (events, jets, jets), from the architecture's adapter."""
    attention = adapter(architecture).attention
    blocks = []
    for start in range(0, len(x), batch_size):
        part = slice(start, start + batch_size)
        weights = attention(model, torch.from_numpy(x[part]), torch.from_numpy(mask[part]))
        blocks.append([w.float().numpy() for w in weights])
    return [np.concatenate(per_block) for per_block in zip(*blocks, strict=True)] if blocks else []
