"""Reading datasets that are already in SPANet's HDF5 layout (`source: spanet_h5`).

Shared benchmark datasets (SPANet's own examples, the Topograph all-hadronic set, ...) come as
    INPUTS/Source/{MASK, pt, eta, phi, mass, btag}   (events, jets)
    TARGETS/<particle>/<daughter> of the topology    (events,) jet index, -1 = unmatched
                                                     (t tbar: TARGETS/t1/{b, q1, q2}, TARGETS/t2/{b, q1, q2})
with jets and jet-level targets but no partons. This module reads and vets such files and puts
their jets in descending pT, the order the rest of the workflow relies on (the W jets of an
assignment are ordered by pT, the baselines take the leading N jets); the split
(`analysis.datasets`) turns the result into the same tables as for Delphes samples.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from analysis.core import keys
from analysis.topology import Topology

SOURCE = "INPUTS/Source"
KINEMATICS = ("pt", "eta", "phi", "mass", "btag")


def target_paths(topology: Topology) -> tuple[str, ...]:
    """The targets' datasets in the topology's slot order (TARGETS/t1/b, TARGETS/t1/q1, ...)."""
    return tuple(f"TARGETS/{slot.particle}/{slot.daughter}" for slot in topology.slots)


def layout(topology: Topology) -> str:
    """What a file needs, for the error messages."""
    return ("a SPANet-format file needs INPUTS/Source/{MASK, pt, eta, phi, mass, btag} of shape (events, jets) and "
            + ", ".join(f"TARGETS/{p.name}/{{{', '.join(p.daughters)}}}" for p in topology.particles)
            + f" of shape (events,), -1 for an unmatched parton (topology {topology.name!r})")


class SpanetFormatError(ValueError):
    """A file that is not a usable SPANet-format dataset; the message names the file, the dataset
    and the fix."""


@dataclass
class Events:
    """Events of one or more files, jets in descending pT with the padding last.

    `inputs`: KINEMATICS and MASK, (events, jets); `targets`: (events, slots) jet index per slot,
    -1 if unmatched; `file_index`: each event's file in `paths`; `event`: its row in that file;
    `report`: per file, its events, the events whose jets were reordered and the jets whose
    negative mass was set to zero."""

    inputs: dict[str, np.ndarray]
    targets: np.ndarray
    file_index: np.ndarray
    event: np.ndarray
    paths: list[Path]
    report: dict[str, dict[str, int]]

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def counts(self) -> np.ndarray:
        """Real jets per event."""
        return self.inputs["MASK"].sum(axis=1)

    def file_keys(self) -> np.ndarray:
        """Each event's file as a path relative to the files' common folder (unique per file)."""
        names = keys.file_keys(self.paths)
        return np.asarray([names[str(p)] for p in self.paths])[self.file_index]


def read_file(path: str | Path, topology: Topology) -> Events:
    """One file's events, checked: every dataset present with matching shapes, finite jet values,
    b-tag 0 or 1, targets on real jets and distinct within an event. Padding jets get zeros
    (files may hold anything there, NaN included), negative masses (rounding in the files'
    production) are set to zero; jets are sorted by descending pT and the targets follow them."""
    try:
        h5 = h5py.File(path, "r")
    except OSError as error:
        raise SpanetFormatError(f"{path}: not readable as HDF5 ({error}); {layout(topology)}") from None
    with h5:
        missing = [f"{SOURCE}/{k}" for k in ("MASK", *KINEMATICS) if f"{SOURCE}/{k}" not in h5]
        missing += [t for t in target_paths(topology) if t not in h5]
        if missing:
            raise SpanetFormatError(f"{path}: no dataset(s) {missing}; {layout(topology)}")
        mask = h5[f"{SOURCE}/MASK"][()].astype(bool)
        inputs = {name: h5[f"{SOURCE}/{name}"][()] for name in KINEMATICS}
        targets = [h5[t][()] for t in target_paths(topology)]
    _check_shapes(path, mask, inputs, targets, topology)
    targets = np.stack(targets, axis=1).astype(np.int64)
    inputs = {name: values.astype(np.float32) for name, values in inputs.items()}
    _check_values(path, mask, inputs)
    inputs = {name: np.where(mask, values, 0).astype(np.float32) for name, values in inputs.items()}
    _check_targets(path, mask, targets, topology)
    negative = inputs["mass"] < 0
    inputs["mass"] = np.where(negative, 0, inputs["mass"]).astype(np.float32)
    inputs["MASK"] = mask
    inputs, targets, reordered = pt_ordered(inputs, targets)
    n = len(targets)
    return Events(inputs, targets, np.zeros(n, dtype=np.int32), np.arange(n, dtype=np.int64), [Path(path)],
                  {str(path): {"events": n, "reordered_events": int(reordered.sum()),
                               "negative_masses_set_to_zero": int(negative.sum())}})


def _check_shapes(path, mask: np.ndarray, inputs: dict[str, np.ndarray], targets: list[np.ndarray],
                  topology: Topology) -> None:
    if mask.ndim != 2:
        raise SpanetFormatError(f"{path}: {SOURCE}/MASK has shape {mask.shape}, not (events, jets); "
                                f"{layout(topology)}")
    for name, values in inputs.items():
        if values.shape != mask.shape:
            raise SpanetFormatError(f"{path}: {SOURCE}/{name} has shape {values.shape}, MASK {mask.shape}; "
                                    "every jet input needs the MASK's (events, jets)")
    for name, values in zip(target_paths(topology), targets, strict=True):
        if values.shape != mask.shape[:1]:
            raise SpanetFormatError(f"{path}: {name} has shape {values.shape}, not ({mask.shape[0]},): one jet "
                                    "index per event")
        if values.dtype.kind not in "iu":
            raise SpanetFormatError(f"{path}: {name} holds {values.dtype} values; targets are integer jet indices "
                                    "(-1 = unmatched)")


def _check_values(path, mask: np.ndarray, inputs: dict[str, np.ndarray]) -> None:
    """Finite kinematics and a 0/1 b-tag on every real jet (the baselines need a tag decision)."""
    for name, values in inputs.items():
        bad = mask & ~np.isfinite(values)
        if bad.any():
            event, jet = np.argwhere(bad)[0]
            raise SpanetFormatError(f"{path}: {SOURCE}/{name} is {values[event, jet]} for jet {jet} of event {event} "
                                    f"({int(bad.sum())} such jets); fix or drop these events")
    btag = inputs["btag"][mask]
    if not np.isin(btag, (0.0, 1.0)).all():
        raise SpanetFormatError(f"{path}: {SOURCE}/btag holds values other than 0 and 1 (e.g. "
                                f"{btag[~np.isin(btag, (0.0, 1.0))][0]}), a b-tag score rather than a decision; "
                                "the baselines need tagged / not tagged: write btag as 0/1 at your working point")


def _check_targets(path, mask: np.ndarray, targets: np.ndarray, topology: Topology) -> None:
    """Each target -1 or a real jet of its event, and no jet the target of two partons."""
    n_events, width = mask.shape
    on_jet = targets >= 0
    inside = (targets >= -1) & (targets < width)
    event, slot = np.nonzero(on_jet & inside)
    inside[event, slot] = mask[event, targets[event, slot]]
    if not inside.all():
        event, slot = np.argwhere(~inside)[0]
        raise SpanetFormatError(f"{path}: {target_paths(topology)[slot]} is {targets[event, slot]} in event {event}, which "
                                f"is not a real jet of the event (MASK) nor -1; {int((~inside).sum())} such targets")
    ordered = np.sort(np.where(on_jet, targets, -1 - np.arange(targets.shape[1])), axis=1)
    twice = (np.diff(ordered, axis=1) == 0).any(axis=1)
    if twice.any():
        event = int(np.flatnonzero(twice)[0])
        raise SpanetFormatError(f"{path}: event {event} names jet(s) twice among its targets {targets[event].tolist()} "
                                f"({int(twice.sum())} such events); a jet matches one parton at most")


def pt_ordered(inputs: dict[str, np.ndarray], targets: np.ndarray) -> tuple[dict, np.ndarray, np.ndarray]:
    """(inputs, targets, reordered events): jets sorted by descending pT with the padding last (a
    stable sort), targets renumbered to the jets' new positions."""
    mask = inputs["MASK"]
    order = np.argsort(np.where(mask, -inputs["pt"], np.inf), axis=1, kind="stable")
    reordered = (order != np.arange(mask.shape[1])[None, :]).any(axis=1)
    if not reordered.any():
        return inputs, targets, reordered
    position = np.argsort(order, axis=1)
    rows = np.arange(len(targets))[:, None]
    renumbered = np.where(targets >= 0, position[rows, np.maximum(targets, 0)], -1)
    return {name: values[rows, order] for name, values in inputs.items()}, renumbered, reordered


def read(paths: Sequence[str | Path], topology: Topology) -> Events:
    """Several files' events one after the other, padded to the widest file's jets; the targets
    are the topology's."""
    if not paths:
        raise SpanetFormatError("no SPANet-format file given")
    parts = [read_file(p, topology) for p in paths]
    width = max(p.inputs["MASK"].shape[1] for p in parts)

    def widened(values: np.ndarray) -> np.ndarray:
        return np.pad(values, ((0, 0), (0, width - values.shape[1])))

    inputs = {name: np.concatenate([widened(p.inputs[name]) for p in parts]) for name in parts[0].inputs}
    return Events(inputs, np.concatenate([p.targets for p in parts]),
                  np.concatenate([np.full(len(p), i, dtype=np.int32) for i, p in enumerate(parts)]),
                  np.concatenate([p.event for p in parts]), [Path(p) for p in paths],
                  {k: v for p in parts for k, v in p.report.items()})
