"""The one assignment format every method writes and every later stage reads.

`results/{tag}/assignments/{method}/{sample}.parquet`, one row per event of the sample's
evaluation set (the test split of the training sample, every event of the others):

    sample, file, event     which event (the dataset's EXTRA fields)
    category                0 matched, 1 unmatched, 2 background (analysis.matching.CATEGORIES)
    weight_pb, n_jets       cross-section weight, jets in the event
    truth                   6 jet indices, slots b1, q1_1, q2_1, b2, q1_2, q2_2 (-1: not matched)
    assignment              6 jet indices in the same slots (-1: the method assigns none)
    valid                   the method gave a complete, topologically valid assignment
    score                   lower = more confident: predictive entropy (networks), chi^2, -log L
    probabilities           per jet, the five class probabilities (networks; empty for fits)

Methods label the two tops arbitrarily; metrics compare up to t <-> tbar and q1 <-> q2.
"""
from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np

from analysis.core.provenance import atomic_output
from analysis.labels import LABELS, SLOTS

CLASS_SLOTS = ((LABELS.index("b1"), (0,)), (LABELS.index("W1"), (1, 2)),
               (LABELS.index("b2"), (3,)), (LABELS.index("W2"), (4, 5)))
"""Jet class -> the assignment slots it fills (W jets in pT order: q1 the harder)."""
FIELDS = ("sample", "file", "event", "category", "weight_pb", "n_jets", "truth", "assignment", "valid", "score",
          "probabilities")


def slots_from_jet_classes(classes: np.ndarray, mask: np.ndarray, pt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(assignment (events, 6), valid (events,)) from one predicted class per jet. Valid means
    the paper's topological check: exactly one b1, two W1, one b2 and two W2 jets. Slots of a
    class with the wrong number of jets stay -1."""
    assignment = np.full((len(classes), len(SLOTS)), -1, dtype=np.int64)
    valid = np.ones(len(classes), dtype=bool)
    for cls, slots in CLASS_SLOTS:
        members = (classes == cls) & mask
        exact = members.sum(axis=1) == len(slots)
        order = np.argsort(np.where(members, -pt, np.inf), axis=1, kind="stable")[:, : len(slots)]
        assignment[:, list(slots)] = np.where(exact[:, None], order, -1)
        valid &= exact
    return assignment, valid


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
        else ak.unflatten(np.zeros((0, len(LABELS)), np.float32), np.zeros(n, np.int64)),
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


def canonical(slots: np.ndarray) -> np.ndarray:
    """Slots in a labelling-free form: q1 <-> q2 sorted within each W, then the two tops sorted,
    so that two assignments are the same physics iff their canonical forms are equal."""
    slots = np.asarray(slots)
    tops = []
    for b, q1, q2 in ((0, 1, 2), (3, 4, 5)):
        qs = np.sort(slots[:, [q1, q2]], axis=1)
        tops.append(np.concatenate([slots[:, [b]], qs], axis=1))
    first, second = tops
    swap = _lexicographic_greater(first, second)
    return np.where(swap[:, None], np.concatenate([second, first], axis=1), np.concatenate([first, second], axis=1))


def _lexicographic_greater(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    greater = np.zeros(len(a), dtype=bool)
    decided = np.zeros(len(a), dtype=bool)
    for column in range(a.shape[1]):
        greater |= ~decided & (a[:, column] > b[:, column])
        decided |= a[:, column] != b[:, column]
    return greater


def correct(assignment: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """All six jets right, up to t <-> tbar and q1 <-> q2 (only for fully matched truth)."""
    assignment, truth = np.asarray(assignment), np.asarray(truth)
    complete = (truth >= 0).all(axis=1) & (assignment >= 0).all(axis=1)
    return complete & (canonical(assignment) == canonical(truth)).all(axis=1)
