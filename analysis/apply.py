"""The `apply` command: a trained model's assignments for every event of one file, as parquet.

The file is a Delphes ROOT file, read step by step with the workflow's reader, its jets as the
skim reads them (Jet.BTag turned into the 0/1 flag of one bit, the jet-shape branches when the
model reads them), or a train / val / test dataset that the workflow's split wrote (.h5). Every
event gets a row, in the file's order:

    event      the file's event number (Event.Number; EXTRA/event of a dataset)
    n_jets     the event's jets in the file
    jets.<slot>  the index of the slot's jet among the event's jets in the file, -1 for none
    valid      a complete, valid assignment
    score      lower = more confident (its name in the column's `__doc__` parameter)

The workflow's event selection (`selection:` of its config) is not applied: a model learnt from
the events that pass it, and its assignments of others are extrapolations. The jet cuts are
applied, by the model (analysis.api).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import h5py
import numpy as np

from analysis import datasets
from analysis.api import AssignmentModel
from analysis.core.jagged import Columns
from analysis.core.provenance import atomic_output
from analysis.events import delphes
from analysis.selection import JET_BRANCHES, SHAPE_FEATURES, non_finite_jets, tagged

STEP = 20_000
"""Events read and assigned at a time: memory stays flat however large the file."""


@dataclass
class Summary:
    """What `apply_file` wrote: events and those with a valid assignment."""

    events: int = 0
    valid: int = 0


def apply_file(model: AssignmentModel, path: str | Path, output: str | Path, btag_bit: int = 0,
               step_size: int = STEP) -> Summary:
    """`model`'s assignments for every event of `path` -> `output` (parquet, written atomically,
    one row group per step). `btag_bit`: the Jet.BTag bit that means b-tagged (Delphes writes one
    bit per BTagging module of its card, in card order); a dataset holds the flag already."""
    path = Path(path)
    steps = [dataset_jets(path, model.columns)] if h5py.is_hdf5(path) else \
        delphes_jets(path, model.columns, btag_bit, step_size)
    summary = Summary()
    with atomic_output(output) as tmp:
        ak.to_parquet_row_groups(_assigned(model, steps, summary), tmp)
    return summary


def _assigned(model: AssignmentModel, steps: Iterable[tuple[np.ndarray, ak.Array]], summary: Summary
              ) -> Iterator[ak.Array]:
    for numbers, jets in steps:
        out = model.assign(jets)
        summary.events += len(out)
        summary.valid += int(np.count_nonzero(out.valid))
        yield ak.zip({"event": numbers, "n_jets": ak.num(jets), "jets": out.jets, "valid": out.valid,
                      "score": out.score}, depth_limit=1)


def delphes_jets(path: Path, columns: Iterable[str], btag_bit: int, step_size: int = STEP
                 ) -> Iterator[tuple[np.ndarray, ak.Array]]:
    """(event numbers, jets) of each step of a Delphes file: the kinematics, the b-tag flag of
    `btag_bit` and the jet-shape fields among `columns`, named as the skim names them. A file
    without events, or with a NaN or infinite jet, is refused (DelphesInputError)."""
    names = {**JET_BRANCHES, **{branch: name for branch, name in SHAPE_FEATURES.items() if name in columns}}
    tree = delphes.open_tree(path)
    if tree.num_entries == 0:
        raise delphes.DelphesInputError(f"{path}: its '{delphes.TREE}' tree holds no events; nothing to assign")
    for arrays in delphes.read_steps(tree, path, {"Event": ("Number",), "Jet": tuple(names)}, step_size):
        jets = Columns.of(arrays["Jet"], names)
        numbers = ak.to_numpy(arrays["Event"][:, 0].Number).astype(np.int64)
        if message := non_finite_jets(jets, path, numbers):
            raise delphes.DelphesInputError(message)
        yield numbers, Columns(jets.counts, {**jets.fields, "btag": tagged(jets["btag"], btag_bit)}).to_awkward()


def dataset_jets(path: Path, columns: Iterable[str]) -> tuple[np.ndarray, ak.Array]:
    """(event numbers, jets) of a dataset the split wrote: its raw jet columns among `columns`
    (and pT, eta), in the stored order. Another HDF5 file is refused (DatasetError)."""
    names = list(dict.fromkeys(("pt", "eta", *columns)))
    try:
        data = datasets.load(path, names, scaled=False)
    except KeyError as err:
        raise datasets.DatasetError(f"{path}: not a dataset of this workflow, which holds INPUTS/Source, TARGETS and "
                                    f"EXTRA ({err.args[0]}); give a train/val/test .h5 that its split wrote, or a "
                                    "Delphes ROOT file") from None
    mask = data["mask"]
    counts = mask.sum(axis=1)
    jets = ak.unflatten(ak.zip({name: data["x"][..., i][mask] for i, name in enumerate(names)}), counts)
    return data["event"], jets
