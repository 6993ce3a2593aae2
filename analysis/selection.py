"""The skim: CMS all-hadronic trigger selection and its cutflow (SAJA paper sec. 3).

Jets are used with pT > 30 GeV and abs(eta) < 2.4. An event passes with at least 6 such jets
above 40 GeV, at least one of those b-tagged ("at least 6 jets with pT > 40 GeV, at least one of
which is b-tagged"), and HT, the scalar sum of the used jets' pT, above 450 GeV. Thresholds come
from the config. Files are read in steps and written as parquet row groups, so memory does not
grow with the size of the sample.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import numpy as np

from analysis.config import Cuts
from analysis.core import jagged
from analysis.core.jagged import Columns
from analysis.events import delphes
from analysis.events.jets import SHAPE_BRANCHES
from analysis.partons import PARTON_FIELDS, find_partons
from analysis.topology import Topology

JET_BRANCHES = {"PT": "pt", "Eta": "eta", "Phi": "phi", "Mass": "mass", "BTag": "btag"}
SHAPE_FEATURES = dict(zip(SHAPE_BRANCHES, ("ptd", "axis_major", "axis_minor", "n_charged_hadrons",
                                           "n_neutral_hadrons", "n_photons", "n_electrons", "n_muons"),
                          strict=True))
"""Delphes-layout jet-shape branch -> feature name (the eight jet-shape inputs, sec. 3.1)."""
OPTIONAL_JET_BRANCHES = {"Flavor": "flavor", **SHAPE_FEATURES}
PARTON_TYPES = {"pt": np.float32, "eta": np.float32, "phi": np.float32, "mass": np.float32, "pid": np.int32}
"""Storage types of the skim's partons."""


class SkimError(ValueError):
    """Input the skim cannot use; the message names the sample, the file and the fix."""


@dataclass(frozen=True)
class Layout:
    """What a sample's files provide beyond the required branches."""

    jet_extras: tuple[str, ...]  # optional Jet branches present in every file
    has_particles: bool

    @property
    def has_shapes(self) -> bool:
        return set(SHAPE_FEATURES) <= set(self.jet_extras)

    @classmethod
    def of(cls, found: Mapping[str, set[str]]) -> Layout:
        """What one file provides, from its fields (analysis.events.delphes.available_fields)."""
        jet_fields, particle_fields = found.get("Jet", set()), found.get("Particle", set())
        return cls(tuple(b for b in OPTIONAL_JET_BRANCHES if b in jet_fields), set(PARTON_FIELDS) <= particle_fields)

    def spec(self) -> dict[str, tuple[str, ...]]:
        spec = {"Event": ("Number", "Weight"), "Jet": tuple(JET_BRANCHES) + self.jet_extras}
        if self.has_particles:
            spec["Particle"] = PARTON_FIELDS
        return spec


def inspect_layout(files: Sequence[str | Path]) -> Layout:
    """The branches the skim will read: required ones must be in every file (else a
    DelphesInputError naming it), optional ones are read when every file has them."""
    extras, particles = None, True
    for path in files:
        tree = delphes.open_tree(path)
        delphes.resolve(tree, path, "Event", ("Number", "Weight"))
        delphes.resolve(tree, path, "Jet", tuple(JET_BRANCHES))
        here = Layout.of(delphes.available_fields(tree))
        extras = set(here.jet_extras) if extras is None else extras & set(here.jet_extras)
        particles &= here.has_particles
    return Layout(tuple(b for b in OPTIONAL_JET_BRANCHES if b in (extras or ())), particles)


def used_jets(pt: np.ndarray, eta: np.ndarray, pt_min: float, eta_max: float) -> np.ndarray:
    """Jets entering the analysis: pT and abs(eta) thresholds (the skim's, and those a trained
    model applies to the jets it is given, analysis.api)."""
    # float64 scalars: float32 columns are compared as float64, like the thresholds are written
    eta_max = np.float64(eta_max)
    return (pt > np.float64(pt_min)) & (eta < eta_max) & (eta > -eta_max)


def cut_names(cuts: Cuts) -> tuple[str, ...]:
    return (
        "all events",
        f">= {cuts.n_jets_min} jets with pT > {cuts.n_jets_pt_min:g} GeV",
        f">= {cuts.n_btag_min} b-tagged among them",
        f"HT > {cuts.ht_min:g} GeV",
    )


@dataclass(frozen=True)
class Selected:
    masks: list[np.ndarray]  # cumulative pass mask after each cut of `cut_names`
    jets: Columns  # the used jets of the events passing every cut


def select(jets: Columns, cuts: Cuts) -> Selected:
    """The selection on all jets of each event (only the used ones count)."""
    used = used_jets(jets["pt"], jets["eta"], cuts.jet_pt_min, cuts.jet_eta_max)
    hard = used & (jets["pt"] > np.float64(cuts.n_jets_pt_min))
    masks = [np.ones(len(jets), dtype=bool)]
    masks.append(jagged.per_event_count(hard, jets.counts) >= cuts.n_jets_min)
    masks.append(masks[-1] & (jagged.per_event_count(hard & (jets["btag"] > 0), jets.counts) >= cuts.n_btag_min))
    before_ht = masks[-1]
    candidates = jets.select(before_ht, used)  # HT only where it still decides
    above = jagged.per_event_sum(candidates["pt"], candidates.counts) > cuts.ht_min
    passed = before_ht.copy()
    passed[before_ht] = above
    masks.append(passed)
    return Selected(masks, candidates.select(above))


class Cutflow:
    """Events, sum of generator weights and cross-section (pb) after each cut."""

    def __init__(self, names: Sequence[str]):
        self.names = tuple(names)
        self.events = np.zeros(len(names), dtype=np.int64)
        self.weighted = np.zeros(len(names))
        self.cross_section_pb = np.zeros(len(names))

    def fill(self, masks: Sequence[np.ndarray], weight: np.ndarray, weight_pb: np.ndarray) -> None:
        for i, mask in enumerate(masks):
            self.events[i] += int(mask.sum())
            self.weighted[i] += float(weight[mask].sum())
            self.cross_section_pb[i] += float(weight_pb[mask].sum())

    def table(self) -> list[dict]:
        return [
            {"cut": name, "events": int(n), "sum_of_weights": w, "cross_section_pb": xs,
             "efficiency": float(n / self.events[0]) if self.events[0] else 0.0}
            for name, n, w, xs in zip(self.names, self.events, self.weighted, self.cross_section_pb, strict=True)
        ]


def tagged(btag: np.ndarray, bit: int) -> np.ndarray:
    """0/1 per jet from Delphes' `Jet.BTag` bit field (one bit per BTagging module of the card,
    in card order): the skim stores this flag, so the selection, both baselines and the networks
    use the working point of `bit` and never the raw bits."""
    return ((np.asarray(btag).astype(np.int64) >> bit) & 1).astype(np.int32)


def skim_step(arrays: dict[str, ak.Array], path: Path, layout: Layout, cuts: Cuts, scale: float,
              cutflow: Cutflow, file_key: str, topology: Topology, btag_bit: int = 0) -> ak.Array:
    """One step of one file: the selected events as skim records, with the topology's decay
    partons; `file_key` names the file uniquely within its sample (analysis.core.keys.file_keys)."""
    jets = Columns.of(arrays["Jet"], {**JET_BRANCHES, **{b: OPTIONAL_JET_BRANCHES[b] for b in layout.jet_extras}})
    jets = Columns(jets.counts, {**jets.fields, "btag": tagged(jets["btag"], btag_bit)})
    event = arrays["Event"][:, 0]  # Delphes' Event collection holds one entry per event
    numbers = ak.to_numpy(event.Number).astype(np.int64)
    _require_finite(jets, path, numbers)
    weight = ak.to_numpy(event.Weight).astype(np.float64)
    weight_pb = weight * scale
    selected = select(jets, cuts)
    cutflow.fill(selected.masks, weight, weight_pb)
    passed, jets = selected.masks[-1], selected.jets
    if layout.has_particles:
        partons = find_partons(Columns.of(arrays["Particle"], PARTON_FIELDS).select(passed), topology)
    else:
        partons = Columns(np.zeros(int(passed.sum()), np.int64), {k: np.zeros(0) for k in PARTON_TYPES})
    return ak.zip(
        {
            "event": numbers[passed],
            "file": ak.from_numpy(np.full(int(passed.sum()), file_key)),
            "weight": weight[passed],
            "weight_pb": weight_pb[passed],
            "ht": jagged.per_event_sum(jets["pt"], jets.counts).astype(np.float32),
            "jets": jets.astype({name: _storage_type(name) for name in jets.fields}).to_awkward(),
            "partons": partons.astype(PARTON_TYPES).to_awkward(),
        },
        depth_limit=1,
    )


def _storage_type(jet_feature: str) -> type:
    """Fixed storage types, whatever the input file used (Delphes writes float32 and int32)."""
    counts = {name for name in SHAPE_FEATURES.values() if name.startswith("n_")}
    return np.int32 if jet_feature in {"btag", "flavor"} | counts else np.float32


def _require_finite(jets: Columns, path: Path, numbers: np.ndarray) -> None:
    if message := non_finite_jets(jets, path, numbers):
        raise SkimError(message)


def non_finite_jets(jets: Columns, path: str | Path, numbers: np.ndarray) -> str | None:
    """What is wrong when a jet's pt, eta, phi or mass is NaN or infinite (None when all are
    finite), with the event number of the first: the skim refuses such a file, and check-input
    says so in the same words before the run."""
    for field in ("pt", "eta", "phi", "mass"):
        bad = ~np.isfinite(jets[field])
        if bad.any():
            first = int(numbers[jagged.event_index(jets.counts)[np.argmax(bad)]])
            return (f"{path}: Jet.{JET_BRANCHES_INV[field]} has {int(bad.sum())} NaN or infinite value(s), first in "
                    f"event number {first}. The file is damaged or was written by a faulty job: regenerate it "
                    "or remove it from the sample.")
    return None


JET_BRANCHES_INV = {v: k for k, v in JET_BRANCHES.items()}


def skim(files: Sequence[str | Path], scales: dict[str, float], keys: dict[str, str], cuts: Cuts, step_size: int,
         cutflow: Cutflow, layout: Layout, topology: Topology, btag_bit: int = 0) -> Iterator[ak.Array]:
    """Stream the selected events of `files`, step by step (`keys`: analysis.core.keys.file_keys)."""
    for path, arrays in delphes.iterate(files, layout.spec(), step_size=step_size):
        yield skim_step(arrays, path, layout, cuts, scales[str(path)], cutflow, keys[str(path)], topology, btag_bit)
