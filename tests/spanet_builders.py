"""Files in SPANet's HDF5 layout, by hand or from our matched Delphes events (known answers)."""
from __future__ import annotations

from pathlib import Path

import awkward as ak
import h5py
import numpy as np

from analysis.core.jagged import padded
from analysis.spanet_h5 import KINEMATICS, target_paths
from analysis.topology import TOPOLOGY


def write_spanet(path: Path, inputs: dict[str, np.ndarray], targets: np.ndarray, drop: tuple[str, ...] = ()) -> Path:
    """`inputs`: MASK and the KINEMATICS, (events, jets); `targets`: (events, 6) in slot order.
    Datasets named in `drop` are left out (broken files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as h5:
        for name in ("MASK", *KINEMATICS):
            if f"INPUTS/Source/{name}" not in drop:
                h5.create_dataset(f"INPUTS/Source/{name}", data=inputs[name])
        for slot, name in enumerate(target_paths(TOPOLOGY)):
            if name not in drop:
                h5.create_dataset(name, data=targets[:, slot].astype(np.int64))
    return path


def from_matched(events: ak.Array, width: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """A matched-stage table as SPANet arrays padded to `width` jets; b-tag as 0/1, targets the
    matched jet per slot (-1 none)."""
    counts = ak.to_numpy(ak.num(events.jets))
    inputs = {name: padded(events.jets[name], width, 0).astype(np.float32) for name in KINEMATICS}
    inputs["btag"] = (inputs["btag"] > 0).astype(np.float32)
    inputs["MASK"] = np.arange(width)[None, :] < np.minimum(counts, width)[:, None]
    return inputs, ak.to_numpy(events.parton_jet).astype(np.int64)


def shuffled(inputs: dict[str, np.ndarray], targets: np.ndarray, rng: np.random.Generator
             ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every event's jets (padding included) in a random order, targets following them: what a
    file whose producer did not sort by pT looks like."""
    order = np.argsort(rng.random(inputs["MASK"].shape), axis=1)
    rows = np.arange(len(targets))[:, None]
    position = np.argsort(order, axis=1)
    moved = np.where(targets >= 0, position[rows, np.maximum(targets, 0)], -1)
    return {name: values[rows, order] for name, values in inputs.items()}, moved
