"""The one assignment format every method writes and every later stage reads.

`results/{tag}/assignments/{method}/{sample}.parquet`, one row per event of the sample's
evaluation set (the test split of the training sample, every event of the others):

    sample, file, event     which event (the dataset's EXTRA fields)
    category                0 matched, 1 unmatched, 2 background (analysis.topology.CATEGORIES)
    weight_pb, n_jets       cross-section weight, jets in the event
    truth                   a jet index per parton slot of the topology (analysis.topology), -1: not matched
    assignment              a jet index per slot, the same slots (-1: the method assigns none)
    valid                   the method gave a complete, topologically valid assignment
    score                   lower = more confident: predictive entropy (networks), chi^2, -log L
    probabilities           per jet, the jet-class probabilities (networks; empty for fits)

Methods label the two tops arbitrarily; metrics compare up to the topology's symmetries
(t <-> tbar and q1 <-> q2).
"""
from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np

from analysis.core.provenance import atomic_output
from analysis.topology import TOPOLOGY, Topology

FIELDS = ("sample", "file", "event", "category", "weight_pb", "n_jets", "truth", "assignment", "valid", "score",
          "probabilities")


def write(path: str | Path, columns: dict) -> None:
    """Write one method's assignments for one sample (atomically); `columns` holds FIELDS."""
    missing = set(FIELDS) - set(columns)
    if missing:
        raise ValueError(f"assignment columns missing: {sorted(missing)}")
    table = ak.zip({name: _as_array(columns[name]) for name in FIELDS}, depth_limit=1)
    with atomic_output(path) as tmp:
        ak.to_parquet(table, tmp)


def write_sample(path: str | Path, sample: str, data: dict, assignment: np.ndarray, valid: np.ndarray,
                 score: np.ndarray, probabilities: ak.Array | None = None) -> int:
    """Write the rows of `sample` of a test set loaded by `analysis.datasets.load`, taking the
    identity and truth columns from it; `probabilities` per jet of those rows (None for fits).
    Returns the number of events written."""
    rows = data["sample"] == data["samples"].index(sample)
    n = int(rows.sum())
    write(path, {
        "sample": np.full(n, sample), "file": data["file"][rows].astype(str), "event": data["event"][rows],
        "category": data["category"][rows], "weight_pb": data["weight_pb"][rows], "n_jets": data["n_jets"][rows],
        "truth": data["targets"][rows], "assignment": assignment[rows], "valid": valid[rows],
        "score": score[rows].astype(np.float64),
        "probabilities": probabilities if probabilities is not None
        else ak.unflatten(np.zeros((0, len(TOPOLOGY.classes)), np.float32), np.zeros(n, np.int64)),
    })
    return n


def read(path: str | Path) -> ak.Array:
    return ak.from_parquet(path)


def _as_array(values):
    if isinstance(values, ak.Array):
        return values
    values = np.asarray(values)
    if values.dtype.kind in "US":
        return ak.from_numpy(values.astype(str))
    return ak.from_numpy(values) if values.ndim > 1 else values


def canonical(slots: np.ndarray, topology: Topology = TOPOLOGY) -> np.ndarray:
    """Slots in a labelling-free form: each group of interchangeable slots sorted (q1 <-> q2
    within each W, the b quarks of a Higgs), then each group of interchangeable particles sorted
    by their slots (the two tops), so that two assignments are the same physics iff their
    canonical forms are equal."""
    slots = np.array(slots)
    for group in topology.symmetric_slots:
        slots[:, list(group)] = np.sort(slots[:, list(group)], axis=1)
    for group in topology.event_groups:
        columns = [topology.particle_slots[topology.particle_index(name)] for name in group]
        blocks = np.stack([slots[:, list(c)] for c in columns], axis=1)  # (events, particles, slots)
        n, k, width = blocks.shape
        flat = blocks.reshape(n * k, width)
        order = np.lexsort([*(flat[:, c] for c in reversed(range(width))), np.repeat(np.arange(n), k)])
        blocks = flat[order].reshape(n, k, width)
        for position, c in enumerate(columns):
            slots[:, list(c)] = blocks[:, position]
    return slots


def correct(assignment: np.ndarray, truth: np.ndarray, topology: Topology = TOPOLOGY) -> np.ndarray:
    """Every slot's jet right, up to the topology's symmetries (only for fully matched truth)."""
    assignment, truth = np.asarray(assignment), np.asarray(truth)
    complete = (truth >= 0).all(axis=1) & (assignment >= 0).all(axis=1)
    return complete & (canonical(assignment, topology) == canonical(truth, topology)).all(axis=1)
