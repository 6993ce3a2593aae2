"""A trained model.pt applied to your own events in one call.

    from analysis import api

    model = api.load("results/default/models/saja/model.pt")
    out = model.assign(jets)      # jets: awkward array, events x jets x {pt, eta, phi, mass, btag, ...}
    out.jets.b1                   # per event, the index (in `jets`' own order) of the b jet of the top
    out.valid, out.score          # a complete assignment; lower score = more confident

The model.pt that the workflow's training writes carries everything needed beside the weights
(analysis.methods.networks.artifact_fields): the raw jet columns the model reads (it normalises
them itself), the jets it was trained on and the order of its jet classes and parton slots.

The parton slots, in the order of `out.jets`' fields (`AssignmentModel.slots`, the topology file
config/topology/ttbar_allhad.yaml): b1, q1_1, q2_1 (the top: its b, its W's harder then softer
quark, by jet pT), then b2, q1_2, q2_2 (the antitop). The networks cannot tell a top from an
antitop, so the two triplets may come in either order. The score (`AssignmentModel.score_name`)
is lower for more confident assignments: SAJA's predictive entropy of its per-jet classes, or
SPA-NET's -log P of the chosen triplets.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import awkward as ak
import numpy as np
import torch

from analysis import methods
from analysis.core import jagged
from analysis.core.training import CheckpointError, load_checkpoint
from analysis.methods import networks
from analysis.selection import used_jets

REQUIRED = ("state_dict", "architecture", "hyperparameters", "columns", "max_jets", "jet_pt_min", "jet_eta_max",
            "classes", "slots")
"""What a model.pt must hold to be used alone (analysis.methods.networks.artifact_fields)."""


class JetInputError(ValueError):
    """Jets a model cannot read; the message names the missing fields, the model file and the fix."""


@dataclass(frozen=True)
class AssignmentModel:
    """A trained assignment network and what its model.pt says about it (`load`)."""

    path: Path
    network: torch.nn.Module = field(repr=False)
    saved: dict = field(repr=False)
    """Everything model.pt holds: also `version` (of ttjpa) and `config_hash` (of the training
    stage's config, as its .meta.json records it), `model`, `best_epoch`, `train_events`."""

    @property
    def architecture(self) -> str:
        return self.saved["architecture"]

    @property
    def columns(self) -> tuple[str, ...]:
        """The jet fields the model reads (`pt_ht`, if among them, is computed when missing)."""
        return tuple(self.saved["columns"])

    @property
    def max_jets(self) -> int:
        """Jets per event the model sees: the leading ones in pT."""
        return int(self.saved["max_jets"])

    @property
    def slots(self) -> tuple[str, ...]:
        """The parton slots of the topology it was trained on, in the order of its outputs."""
        return self.network.topology.slot_names

    @property
    def score_name(self) -> str:
        return methods.get(self.architecture).score_name

    def assign(self, jets: ak.Array, batch_size: int = 1000) -> ak.Array:
        """One record per event: `jets` (one field per parton slot, `slots`: the index of the
        chosen jet in the event's jets as given, -1 for none), `valid` and `score` (its name in
        the field's `__doc__` parameter).

        The model sees each event's jets as the workflow gave them to it in training: those above
        the skim's pT cut and within its abs(eta) cut (the model.pt's `jet_pt_min`,
        `jet_eta_max`), the `max_jets` leading in pT. `btag` is 0 or 1 (b-tagged at the working
        point the training sample used), pT and mass in GeV; `pt_ht`, when the model reads it and
        `jets` lacks it, is each jet's pT over the sum of those jets' pT, as in the datasets.
        Events with fewer jets than slots are never valid. Where an event is not valid its slots
        are no assignment (some -1, some jets repeated or missing): use the valid events only."""
        jets = self._checked(jets)
        used = ak.unflatten(used_jets(ak.to_numpy(ak.flatten(jets.pt)), ak.to_numpy(ak.flatten(jets.eta)),
                                      self.saved["jet_pt_min"], self.saved["jet_eta_max"]), ak.num(jets))
        kept, index = jets[used], ak.local_index(jets, axis=1)[used]
        order = ak.argsort(kept.pt, axis=1, ascending=False, stable=True)
        kept, index = kept[order], index[order]
        values = {name: kept[name] for name in self.columns if name in kept.fields}
        if "pt_ht" in self.columns and "pt_ht" not in values:
            ht = ak.values_astype(ak.sum(ak.values_astype(kept.pt, np.float64), axis=1), np.float32)
            values["pt_ht"] = kept.pt / ht
        n = self.max_jets
        x = np.stack([jagged.padded(values[name], n, 0) for name in self.columns], axis=-1).astype(np.float32)
        mask = np.arange(n)[None, :] < np.minimum(jagged.counts(kept), n)[:, None]
        pt = x[..., self.columns.index("pt")]  # every model reads pT: its decoding orders the W jets by it
        slots, valid, score, _ = networks.predict(self.network, self.architecture, x, mask, pt, batch_size)
        origin = jagged.padded(index, n, -1).astype(np.int64)
        chosen = np.where(slots >= 0, np.take_along_axis(origin, np.clip(slots, 0, None), axis=1), -1)
        per_slot = np.ascontiguousarray(chosen.T)  # parquet takes contiguous columns only
        return ak.zip({"jets": ak.zip(dict(zip(self.slots, per_slot, strict=True))),
                       "valid": valid, "score": ak.with_parameter(score, "__doc__", self.score_name)},
                      depth_limit=1)

    def _checked(self, jets: ak.Array) -> ak.Array:
        jets = ak.Array(jets)
        if jets.ndim != 2 or not jets.fields:
            raise JetInputError(f"jets for {self.path}: an awkward array of events, each a list of jet records, "
                                f"is needed, not {jets.type}; e.g. ak.zip({{'pt': pt, 'eta': eta, ...}}) of "
                                "jagged arrays")
        needed = dict.fromkeys(("pt", "eta", *(c for c in self.columns if c != "pt_ht")))
        missing = [name for name in needed if name not in jets.fields]
        if missing:
            raise JetInputError(f"jets for {self.path}: no field(s) {missing}; the model reads {list(self.columns)} "
                                f"and the jets have {jets.fields}. Add those fields (pT and mass in GeV, btag 0/1)")
        return jets


def load(path: str | Path, device: str | torch.device = "cpu") -> AssignmentModel:
    """The model of a model.pt that the workflow's training wrote, on `device`. Refused (a
    CheckpointError naming the file and the fix) when the file lacks what it needs to be used
    alone, or when its classes, slots or input columns differ from those of this code and of the
    topology file it names."""
    path = Path(path)
    saved = load_checkpoint(path)
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path}: not a model.pt of this workflow's training (it holds a "
                              f"{type(saved).__name__}); point to results/<tag>/models/<model>/model.pt")
    missing = [key for key in REQUIRED if key not in saved]
    if missing:
        raise CheckpointError(f"{path}: lacks {missing}, which a model file needs to be used alone; it was not "
                              "written by this workflow's training, or by a version older than the `apply` command; "
                              "retrain it (delete it and rerun snakemake)")
    trained_on = networks.saved_topology(saved)
    for key, ours in (("classes", trained_on.class_names), ("slots", trained_on.slot_names)):
        if tuple(saved[key]) != ours:
            raise CheckpointError(f"{path}: trained with the jet {key} {list(saved[key])}, but the topology "
                                  f"{trained_on.name!r} ({trained_on.path}) now has {list(ours)}, so its outputs "
                                  "would be read in the wrong order. Use the topology file (config/topology/) it was "
                                  "trained with, or retrain it")
    network = networks.restore_model(saved, torch.device(device))
    if tuple(saved["columns"]) != network.inputs.columns:
        raise CheckpointError(f"{path}: trained on the jet columns {saved['columns']}, but this code feeds its "
                              f"features {list(network.inputs.columns)}; use ttjpa {saved.get('version', '?')}, "
                              "which wrote it, or retrain it")
    return AssignmentModel(path, network, saved)
