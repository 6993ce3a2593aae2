"""Per-event (jagged) collections handled as flat numpy columns plus the count per event.

The skim, the parton finding and the matching touch every jet and particle of every event a
handful of times. Awkward's general broadcasting and jagged slicing cost more per call than the
numpy gather or scatter they stand for at our sizes (tens of thousands of events per step), so
these stages flatten a collection once (`Columns.of`), compute with numpy, and build awkward
records again only for their output (`Columns.to_awkward`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import awkward as ak
import numpy as np


def counts(array: ak.Array) -> np.ndarray:
    """Entries per event."""
    return ak.to_numpy(ak.num(array, axis=1)).astype(np.int64)


def event_index(n: np.ndarray) -> np.ndarray:
    """For each flat entry, the event it belongs to (`n`: counts per event)."""
    return np.repeat(np.arange(len(n)), n)


def local_index(n: np.ndarray) -> np.ndarray:
    """For each flat entry, its position inside its event (`n`: counts per event)."""
    return np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)


def first_of_runs(keys: np.ndarray) -> np.ndarray:
    """Mask of the first element of each run of equal values (e.g. of each event in sorted rows)."""
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    return first


def last_of_runs(keys: np.ndarray) -> np.ndarray:
    """Mask of the last element of each run of equal values."""
    last = np.ones(len(keys), dtype=bool)
    last[:-1] = keys[1:] != keys[:-1]
    return last


def per_event_sum(values: np.ndarray, n: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """Sum of the flat `values` per event, accumulated in `dtype` (0 for an empty event)."""
    total = np.zeros(len(n), dtype)
    filled = n > 0
    if filled.any():  # reduceat: one pass, segments starting at each non-empty event
        total[filled] = np.add.reduceat(values, (np.cumsum(n) - n)[filled], dtype=dtype)
    return total


def per_event_count(keep: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Number of true entries of the flat mask `keep` per event."""
    return per_event_sum(np.asarray(keep, dtype=bool).view(np.uint8), n, np.int32).astype(np.int64)


def _pad(entries: np.ndarray, n: np.ndarray, length: int, fill: float) -> np.ndarray:
    position = local_index(n)
    inside = position < length
    out = np.full((len(n), length), fill, dtype=np.float64)
    out[event_index(n)[inside], position[inside]] = entries[inside]
    return out


def padded(values: ak.Array, length: int, fill: float = np.nan) -> np.ndarray:
    """Jagged -> (events, length) float64 array: the first `length` entries of each event,
    `fill` after them (and for missing entries)."""
    entries = ak.to_numpy(ak.fill_none(ak.flatten(values, axis=1), fill))
    return _pad(entries, counts(values), length, fill)


def _lists_of_flat_records(layout: ak.contents.Content, names: Mapping[str, str]) -> bool:
    return (isinstance(layout, ak.contents.ListOffsetArray) and isinstance(layout.content, ak.contents.RecordArray)
            and all(field in layout.content.fields and isinstance(layout.content.content(field), ak.contents.NumpyArray)
                    and layout.content.content(field).data.ndim == 1 for field in names))


@dataclass(frozen=True)
class Columns:
    """One jagged collection of many events (their jets, or their particles) as flat numpy
    columns, event after event, and the number of entries of each event."""

    counts: np.ndarray
    fields: dict[str, np.ndarray]

    @classmethod
    def of(cls, array: ak.Array, names: Sequence[str] | Mapping[str, str]) -> Columns:
        """The columns `names` of a jagged record array, flattened once; a mapping renames
        (source field -> column)."""
        names = dict(names) if isinstance(names, Mapping) else {name: name for name in names}
        layout = ak.to_layout(array)
        if _lists_of_flat_records(layout, names):  # as uproot reads a branch group: views, no copy
            offsets = np.asarray(layout.offsets).astype(np.int64)
            return cls(np.diff(offsets), {column: layout.content.content(field).data[offsets[0]:offsets[-1]]
                                          for field, column in names.items()})
        entries = ak.flatten(array[list(names)], axis=1)
        return cls(counts(array), {column: ak.to_numpy(entries[field]) for field, column in names.items()})

    def __getitem__(self, name: str) -> np.ndarray:
        return self.fields[name]

    def __len__(self) -> int:
        return len(self.counts)

    def select(self, events: np.ndarray | None = None, entries: np.ndarray | None = None) -> Columns:
        """The events where the mask `events` is true (all if None), keeping their entries where
        the flat mask `entries` is true (all if None), in order."""
        if events is None:
            rows, counts = np.arange(int(self.counts.sum())), self.counts
        else:  # the rows of the chosen events' entries, from their starts (no pass over all entries)
            counts = self.counts[events]
            starts = (np.cumsum(self.counts) - self.counts)[events]
            rows = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()))
        if entries is not None:
            keep = entries[rows]
            rows, counts = rows[keep], per_event_count(keep, counts)
        return Columns(counts, {name: values[rows] for name, values in self.fields.items()})

    def astype(self, dtypes: Mapping[str, type]) -> Columns:
        return Columns(self.counts, {name: values.astype(dtypes[name]) for name, values in self.fields.items()})

    def padded(self, name: str, length: int, fill: float = np.nan) -> np.ndarray:
        """(events, length) float64 array of one column, `fill` after each event's entries."""
        return _pad(self.fields[name], self.counts, length, fill)

    def to_awkward(self) -> ak.Array:
        """Jagged records, one list per event."""
        return ak.unflatten(ak.zip(dict(self.fields), depth_limit=1), self.counts)
