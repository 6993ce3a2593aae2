"""Train / validation / test datasets in the SPANet HDF5 layout.

The training sample's events are split by a hash of (seed, sample, file name, event number), so
an event's set does not depend on row order or on which other events exist. Every other sample
(unmatched and matched alike, QCD, alternative generators) goes whole into the test set, where
the rejection rates and the generator study are measured; the category tells them apart.
Datasets that come in SPANet's layout already (`source: spanet_h5`, read by analysis.spanet_h5)
enter the same tables from their jets and targets; as the training sample they may assign whole
files to the sets instead (`roles`).

Each file holds
    INPUTS/Source/{MASK, pt, eta, phi, mass, btag, pt_ht, <jet shapes>}  (events, jets), raw values
    TARGETS/<particle>/<daughter> (t tbar: t1/{b, q1, q2}, t2/{b, q1, q2}) jet index, -1 if unmatched
(what the official SPANet package reads with `event_info.yaml`, written beside the files from
the topology file, analysis.topology) and
our own groups
    SCALING/<feature>: [min, max] of the min-max scaling, fitted on the training set only
    EXTRA/...: jet labels, event category, sample, file, event number, weights, HT, partons.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import h5py
import numpy as np

from analysis import spanet_h5
from analysis.config import Config, ConfigError, FileSample
from analysis.core.jagged import padded
from analysis.core.provenance import atomic_output
from analysis.events.delphes import DelphesInputError
from analysis.selection import SHAPE_FEATURES, inspect_layout
from analysis.topology import CATEGORIES, MATCHED, UNMATCHED, Topology

SETS = ("train", "val", "test")
KINEMATIC_FEATURES = ("pt", "eta", "phi", "mass", "btag", "pt_ht")
SHAPES = tuple(SHAPE_FEATURES.values())
UNSCALED = ("btag",)
"""Min-max scaling applies to every feature except these (SAJA paper sec. 3.1)."""
H5_OPTIONS = {"track_times": False, "compression": "gzip", "compression_opts": 4, "shuffle": True}
"""No timestamps in dataset headers, so the same inputs give byte-identical files."""


class DatasetError(ValueError):
    """A split that cannot give usable datasets; the message names the sample and the fix."""


@dataclass
class Table:
    """Events of one set, padded to a common number of jets."""

    inputs: dict[str, np.ndarray]   # feature -> (events, jets); plus MASK
    targets: np.ndarray             # (events, slots) jet index per slot, -1 if none
    extra: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.targets)


def split_fractions(seed: int, sample: str, files: np.ndarray, events: np.ndarray) -> np.ndarray:
    """A uniform number in [0, 1) per event from a 64-bit hash of (seed, sample, file, event)."""
    keys = np.zeros(len(events), dtype=np.uint64)
    for name in np.unique(files):
        digest = hashlib.sha256(f"{seed}/{sample}/{name}".encode()).digest()
        keys[files == name] = np.uint64(int.from_bytes(digest[:8], "little"))
    mixed = _splitmix64(keys ^ _splitmix64(events.astype(np.uint64)))
    return (mixed >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser: a bijective, well-mixed 64-bit hash (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def assign_sets(u: np.ndarray, fractions: Sequence[float]) -> np.ndarray:
    """Set index (0 train, 1 val, 2 test) from the hash fractions."""
    edges = np.cumsum(fractions)[:-1]
    return np.searchsorted(edges, u, side="right").astype(np.int8)


def jet_features(events: ak.Array, shapes: bool) -> dict[str, ak.Array]:
    jets = events.jets
    features = {name: jets[name] for name in KINEMATIC_FEATURES if name != "pt_ht"}
    features["pt_ht"] = jets.pt / events.ht
    if shapes:
        features.update({name: jets[name] for name in SHAPES})
    return features


def build_table(events: ak.Array, sample_index: int, n_jets: int, shapes: bool) -> Table:
    """Pad one sample's events to `n_jets` jets (leading in pT). A matched event whose parton
    sits beyond `n_jets` is no longer matched for these inputs and becomes `unmatched`."""
    counts = ak.to_numpy(ak.num(events.jets))
    mask = np.arange(n_jets)[None, :] < np.minimum(counts, n_jets)[:, None]
    inputs = {name: padded(values, n_jets, 0).astype(np.float32) for name, values in jet_features(events, shapes).items()}
    inputs["MASK"] = mask
    targets = ak.to_numpy(events.parton_jet).astype(np.int64)  # (events, slots)
    targets = np.where(targets < n_jets, targets, -1)
    category = ak.to_numpy(events.category).astype(np.int8)
    lost = (category == MATCHED) & (targets < 0).any(axis=1)
    category = np.where(lost, UNMATCHED, category).astype(np.int8)
    partons = events.partons
    extra = {
        "sample": np.full(len(events), sample_index, dtype=np.int8),
        "file": ak.to_numpy(events.file).astype("S"),
        "event": ak.to_numpy(events.event).astype(np.int64),
        "category": category,
        "truncated_matched": lost,
        "n_jets": counts.astype(np.int16),
        "ht": ak.to_numpy(events.ht).astype(np.float32),
        "weight": ak.to_numpy(events.weight).astype(np.float64),
        "weight_pb": ak.to_numpy(events.weight_pb).astype(np.float64),
        "jet_label": padded(events.jet_label, n_jets, -1).astype(np.int8),
    }
    if "flavor" in events.jets.fields:
        extra["jet_flavor"] = padded(events.jets.flavor, n_jets, 0).astype(np.int32)
    for name in ("pt", "eta", "phi", "mass"):
        extra[f"parton_{name}"] = padded(partons[name], targets.shape[1], np.nan).astype(np.float32)
    extra["parton_pid"] = padded(partons.pid, targets.shape[1], 0).astype(np.int32)
    return Table(inputs, targets, extra)


def spanet_table(events: spanet_h5.Events, sample_index: int, n_jets: int, weight_pb: float,
                 topology: Topology) -> Table:
    """The table of a SPANet-format dataset, like `build_table`'s: jets (pT-ordered by the reader)
    cut or padded to `n_jets`, targets beyond them demoted as there, HT from all real jets. A
    file has no partons and no event categories of its own: an event is matched when all its
    targets are set, else unmatched; every event weighs 1 and `weight_pb` pb."""
    width = events.inputs["MASK"].shape[1]
    counts = events.counts

    def fitted(values: np.ndarray) -> np.ndarray:
        return np.pad(values, ((0, 0), (0, max(n_jets - width, 0))))[:, :n_jets]

    ht = np.where(events.inputs["MASK"], events.inputs["pt"], 0.0).sum(axis=1, dtype=np.float64).astype(np.float32)
    inputs = {name: fitted(events.inputs[name]).astype(np.float32) for name in spanet_h5.KINEMATICS}
    inputs["pt_ht"] = np.divide(inputs["pt"], ht[:, None], out=np.zeros_like(inputs["pt"]), where=ht[:, None] > 0)
    inputs["MASK"] = fitted(events.inputs["MASK"])
    complete = (events.targets >= 0).all(axis=1)
    targets = np.where(events.targets < n_jets, events.targets, -1)
    lost = complete & (targets < 0).any(axis=1)
    n = len(events)
    extra = {
        "sample": np.full(n, sample_index, dtype=np.int8),
        "file": events.file_keys().astype("S"),
        "event": events.event,
        "category": np.where(complete & ~lost, MATCHED, UNMATCHED).astype(np.int8),
        "truncated_matched": lost,
        "n_jets": counts.astype(np.int16),
        "ht": ht,
        "weight": np.ones(n),
        "weight_pb": np.full(n, weight_pb),
        "jet_label": target_labels(targets, inputs["MASK"], topology),
    }
    for name in ("pt", "eta", "phi", "mass"):
        extra[f"parton_{name}"] = np.full((n, len(topology.slots)), np.nan, dtype=np.float32)
    extra["parton_pid"] = np.zeros((n, len(topology.slots)), dtype=np.int32)
    return Table(inputs, targets, extra)


def target_labels(targets: np.ndarray, mask: np.ndarray, topology: Topology) -> np.ndarray:
    """(events, jets) jet class (the topology's classes) implied by the targets: -1 padding, `other` for a real
    jet that is no target (what the match stage gives Delphes events)."""
    labels = np.where(mask, topology.other_class, -1).astype(np.int8)
    event, slot = np.nonzero(targets >= 0)
    labels[event, targets[event, slot]] = np.array(topology.slot_classes)[slot]
    return labels


def concatenate(tables: Sequence[Table]) -> Table:
    """One table of several; EXTRA fields that only some samples have (the Delphes jet flavour,
    absent from SPANet-format datasets) are left out."""
    extra = [k for k in tables[0].extra if all(k in t.extra for t in tables)]
    return Table(
        {k: np.concatenate([t.inputs[k] for t in tables]) for k in tables[0].inputs},
        np.concatenate([t.targets for t in tables]),
        {k: np.concatenate([t.extra[k] for t in tables]) for k in extra},
    )


def select(table: Table, keep: np.ndarray) -> Table:
    return Table({k: v[keep] for k, v in table.inputs.items()}, table.targets[keep],
                 {k: v[keep] for k, v in table.extra.items()})


def fit_scaling(train: Table) -> dict[str, tuple[float, float]]:
    """Min-max range of every scaled feature over the training set's real jets."""
    mask = train.inputs["MASK"]
    scaling = {}
    for name, values in train.inputs.items():
        if name == "MASK" or name in UNSCALED:
            continue
        real = values[mask]
        scaling[name] = (float(real.min()), float(real.max())) if real.size else (0.0, 1.0)
    return scaling


def write_h5(path: str | Path, table: Table, scaling: dict[str, tuple[float, float]], samples: Sequence[str],
             topology: Topology) -> None:
    """One set as a file; TARGETS in the topology's slot order (`load` reads them back in it)."""
    with atomic_output(path) as tmp, h5py.File(tmp, "w", track_order=True) as h5:
        source = h5.create_group("INPUTS", track_order=True).create_group("Source", track_order=True)
        for name, values in table.inputs.items():
            source.create_dataset(name, data=values, **H5_OPTIONS)
        targets = h5.create_group("TARGETS", track_order=True)
        for index, slot in enumerate(topology.slots):
            group = targets.get(slot.particle) or targets.create_group(slot.particle, track_order=True)
            group.create_dataset(slot.daughter, data=table.targets[:, index], **H5_OPTIONS)
        scale = h5.create_group("SCALING", track_order=True)
        for name, (low, high) in scaling.items():
            scale.create_dataset(name, data=np.array([low, high]), track_times=False)
        extra = h5.create_group("EXTRA", track_order=True)
        for name, values in table.extra.items():
            extra.create_dataset(name, data=values, **H5_OPTIONS)
        extra.attrs["samples"] = list(samples)
        extra.attrs["categories"] = list(CATEGORIES)
        extra.attrs["labels"] = list(topology.class_names)
        extra.attrs["slots"] = list(topology.slot_names)


def load(path: str | Path, features: Sequence[str] | None = None, scaled: bool = True) -> dict[str, np.ndarray]:
    """A dataset file as arrays: `x` (events, jets, features; min-max scaled with the stored
    training-set ranges unless `scaled=False`), `mask`, `jet_pt` (raw, GeV: it orders the W jets
    of an assignment), `targets` (events, slots; in the slot order `write_h5` wrote them) and
    every EXTRA field."""
    with h5py.File(path, "r") as h5:
        source = h5["INPUTS/Source"]
        features = list(features or [k for k in source if k != "MASK"])
        missing = [f for f in features if f not in source]
        if missing:
            raise DatasetError(f"{path}: no input feature(s) {missing}; the file has {sorted(source)}")
        columns = []
        for name in features:
            values = source[name][()].astype(np.float32)
            if scaled and name in h5["SCALING"]:
                low, high = h5["SCALING"][name][()]
                values = ((values - low) / (high - low if high > low else 1.0)).astype(np.float32)
            columns.append(values)
        mask = source["MASK"][()]
        out = {"x": np.stack(columns, axis=-1) * mask[..., None], "mask": mask, "features": features,
               "jet_pt": source["pt"][()],
               "targets": np.stack([group[daughter][()] for group in h5["TARGETS"].values() for daughter in group],
                                   axis=1)}
        out.update({name: h5["EXTRA"][name][()] for name in h5["EXTRA"]})
        out["samples"] = list(h5["EXTRA"].attrs["samples"])
    return out


def check_model_features(cfg: Config) -> None:
    """A ConfigError, before any job runs, when a network takes jet-shape inputs that a sample's
    files lack. Every network is applied to every sample of the analysis and the split keeps the
    shapes only when all samples have them, so such a run would otherwise stop at the split after
    generating and skimming everything. Real Delphes files lack the SAJA shape branches unless the
    card writes them; files Delphes cannot open are left to the check_input job, which names them."""
    needs = {name: [f for f in spec.features if f in SHAPES] for name, spec in cfg.models.items()}
    needs = {name: features for name, features in needs.items() if features}
    if not needs:
        return
    lacking = {}
    for name, sample in cfg.samples.items():
        if not isinstance(sample, FileSample):
            continue  # the embedded generator writes every shape branch
        try:
            layout = inspect_layout(sample.paths())
        except DelphesInputError:
            continue
        missing = [f"Jet.{branch}" for branch in SHAPE_FEATURES if branch not in layout.jet_extras]
        if missing:
            lacking[name] = missing
    if lacking:
        described = "; ".join(f"{name} lacks {', '.join(missing)}" for name, missing in lacking.items())
        raise ConfigError(
            f"key 'models': {sorted(needs)} take jet-shape inputs ({', '.join(sorted({f for v in needs.values() for f in v}))}) "
            f"that the files of sample(s) {sorted(lacking)} do not have ({described}). Every network is applied to "
            "every sample under 'samples' and 'generators', so the run would stop at the split. Remove those models "
            "(or their shape features) from 'models', or remove the sample(s), or write the shape branches into "
            "the files (README, 'Your own Delphes files')."
        )
