"""Assignments made outside the workflow, read from their prediction files, so that the
evaluation puts them beside its own methods on the same test events (config key `imported`).

`spanet_predictions` is the HDF5 file that the official SPANet package writes with
`python -m spanet.predict` (spanet 2.1.1) when it is given this workflow's `test.h5`: for every
particle of the event file (t1, t2) and each of its daughters (b, q1, q2), the predicted jet
index at `TARGETS/<particle>/<daughter>`, the probability of that particle's assignment at
`TARGETS/<particle>/assignment_probability`, and a copy of the file's `INPUTS`, one row per
event in the order of the file it was run on. The copied jet pT must equal the test set's: a
file predicted on another test set is refused rather than misaligned. Under Python 3.11, spanet
2.1.1 names the two groups `SpecialKey.Inputs` and `SpecialKey.Targets` (it formats its string
enums into the paths, which Python 3.11 renders with the class name); both spellings are read.
"""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from analysis.topology import TOPOLOGY, Topology

GROUPS = (("INPUTS", "TARGETS"), ("SpecialKey.Inputs", "SpecialKey.Targets"))
"""(inputs, targets) group names: SPANet's documented layout, and what spanet 2.1.1 writes under Python 3.11."""


class PredictionFileError(ValueError):
    """A prediction file that does not belong to the test set it is read against."""


def read_spanet_predictions(path: str | Path, jet_pt: np.ndarray, mask: np.ndarray, topology: Topology = TOPOLOGY
                            ) -> tuple[np.ndarray, np.ndarray]:
    """(slots (events, slots), score = -log P(assignment), summed over the particles) of a
    SPANet prediction file of the topology's particles, checked against the test set's jet pT
    (`jet_pt`, `mask`)."""
    with h5py.File(path, "r") as file:
        inputs, targets = next((g for g in GROUPS if all(name in file for name in g)), GROUPS[0])
        columns = [f"{targets}/{s.particle}/{s.daughter}" for s in topology.slots]
        missing = [name for name in [f"{inputs}/Source/pt", *columns] if name not in file]
        if missing:
            raise PredictionFileError(f"{path}: not a SPANet prediction file of this topology (missing {missing}); "
                                      "write it with `python -m spanet.predict` on results/<tag>/datasets/test.h5 "
                                      "(benchmarks/spanet_official.py)")
        pt = file[f"{inputs}/Source/pt"][:]
        if pt.shape[0] != len(jet_pt) or not np.allclose(np.where(mask, pt[:, :mask.shape[1]], 0),
                                                          np.where(mask, jet_pt, 0), rtol=1e-5):
            raise PredictionFileError(f"{path}: its events are not those of this run's test set ({pt.shape[0]} "
                                      f"events against {len(jet_pt)}, or other jets); predict again on "
                                      "results/<tag>/datasets/test.h5 of this run")
        slots = np.stack([file[name][:] for name in columns], axis=1)
        probability = np.prod([file[f"{targets}/{p.name}/assignment_probability"][:] for p in topology.particles],
                              axis=0)
    slots = slots.astype(np.int64)
    distinct = (np.diff(np.sort(slots, axis=1), axis=1) != 0).all(axis=1)
    valid = (slots >= 0).all(axis=1) & distinct
    score = np.where(valid, -np.log(np.clip(probability, 1e-300, None)), np.inf)
    return np.where(valid[:, None], slots, -1), score


class SpanetPredictions:
    """The `spanet_predictions` format in the interface of imported methods: `read(path, jet_pt,
    mask, topology)` -> (slots, score)."""

    read = staticmethod(read_spanet_predictions)


ADAPTER = SpanetPredictions()
