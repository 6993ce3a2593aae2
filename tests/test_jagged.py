"""Flat-column helpers against awkward's own operations, empty events included."""
from __future__ import annotations

import awkward as ak
import numpy as np

from analysis.core import jagged
from analysis.core.jagged import Columns


def random_records(rng, n_events=300):
    counts = rng.integers(0, 7, n_events)
    counts[:3] = 0  # leading empty events
    total = int(counts.sum())
    records = ak.zip({"pt": rng.exponential(40.0, total).astype(np.float32), "id": rng.integers(-5, 6, total)})
    return ak.unflatten(records, counts)


def test_columns_agree_with_awkward_for_plain_and_sliced_layouts():
    rng = np.random.default_rng(1)
    array = random_records(rng)
    mask = rng.random(len(array)) < 0.4
    for source in (ak.to_packed(array), array[mask], array[10:]):  # the view path and the flatten path
        columns = Columns.of(source, {"pt": "x", "id": "id"})
        assert columns.counts.tolist() == ak.num(source).tolist()
        assert columns["x"].tolist() == ak.flatten(source.pt).tolist()
        assert columns.to_awkward().id.tolist() == source.id.tolist()


def test_select_events_and_entries():
    rng = np.random.default_rng(2)
    array = random_records(rng)
    columns = Columns.of(array, ("pt", "id"))
    events = rng.random(len(array)) < 0.5
    entries = columns["id"] > 0
    selected = columns.select(events, entries).to_awkward()
    expected = array[events][array[events].id > 0]
    assert selected.tolist() == expected.tolist()
    assert columns.select(entries=entries).to_awkward().tolist() == array[array.id > 0].tolist()
    assert columns.select(np.zeros(len(array), bool)).counts.tolist() == []


def test_per_event_sums_counts_and_padding():
    rng = np.random.default_rng(3)
    array = random_records(rng)
    columns = Columns.of(array, ("pt", "id"))
    np.testing.assert_allclose(jagged.per_event_sum(columns["pt"], columns.counts),
                               ak.sum(array.pt, axis=1).to_numpy(), rtol=1e-6)
    assert jagged.per_event_count(columns["id"] > 0, columns.counts).tolist() == ak.sum(array.id > 0, axis=1).tolist()
    padded = columns.padded("pt", 4, fill=-1.0)
    expected = ak.fill_none(ak.pad_none(array.pt, 4, clip=True), -1.0).to_numpy()
    np.testing.assert_array_equal(padded, expected.astype(np.float64))
    np.testing.assert_array_equal(jagged.padded(array.pt, 4, fill=-1.0), padded)


def test_runs():
    keys = np.array([3, 3, 5, 7, 7, 7])
    assert jagged.first_of_runs(keys).tolist() == [True, False, True, True, False, False]
    assert jagged.last_of_runs(keys).tolist() == [False, True, True, False, False, True]
    assert jagged.first_of_runs(keys[:0]).tolist() == jagged.last_of_runs(keys[:0]).tolist() == []
