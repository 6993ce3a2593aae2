"""Per-event (jagged) arrays handled as one flat numpy array plus the counts per event.

The skim and the matching touch every jet of every event a handful of times. Awkward's general
broadcasting and jagged slicing cost more per call than the whole numpy gather or scatter they
stand for at our sizes (tens of thousands of events), so the hot paths use these few helpers.
"""
from __future__ import annotations

import awkward as ak
import numpy as np


def counts(array: ak.Array) -> np.ndarray:
    """Entries per event."""
    return ak.to_numpy(ak.num(array, axis=1)).astype(np.int64)


def flat(values: ak.Array) -> np.ndarray:
    """All entries of a jagged numeric array, event after event."""
    return ak.to_numpy(ak.flatten(values, axis=1))


def event_index(n: np.ndarray) -> np.ndarray:
    """For each flat entry, the event it belongs to (`n`: counts per event)."""
    return np.repeat(np.arange(len(n)), n)


def local_index(n: np.ndarray) -> np.ndarray:
    """For each flat entry, its position inside its event (`n`: counts per event)."""
    starts = np.cumsum(n) - n
    return np.arange(int(n.sum())) - np.repeat(starts, n)


def per_event_sum(values: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Sum of the flat `values` per event, in float64, added in entry order."""
    return np.bincount(event_index(n), weights=values, minlength=len(n))


def per_event_count(keep: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Number of true entries of the flat mask `keep` per event."""
    running = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
    ends = np.cumsum(n)
    return running[ends] - running[ends - n]


def select(array: ak.Array, keep: np.ndarray) -> ak.Array:
    """The entries of each event where the flat mask `keep` is true (order kept)."""
    return ak.unflatten(ak.flatten(array, axis=1)[keep], per_event_count(keep, counts(array)))


def padded(values: ak.Array, length: int, fill: float = np.nan) -> np.ndarray:
    """Jagged -> (events, length) float64 array: the first `length` entries of each event,
    `fill` after them (and for missing entries)."""
    n = counts(values)
    entries = ak.to_numpy(ak.fill_none(ak.flatten(values, axis=1), fill)).astype(np.float64)
    position = local_index(n)
    inside = position < length
    out = np.full((len(n), length), fill, dtype=np.float64)
    out[event_index(n)[inside], position[inside]] = entries[inside]
    return out
