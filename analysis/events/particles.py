"""From Pythia's full event records (awkward batches) to the particle collections we need:
the hard-process record with re-linked mothers/daughters, the visible final state, the
partons used for jet flavour.

Everything works on flattened numpy arrays plus per-event offsets: a Python loop over
particles is several times slower than Pythia itself.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import awkward as ak
import numpy as np

from analysis.core.kinematics import pt_eta_phi_mass

NEUTRINOS = (12, 14, 16)
MAX_COPY_DEPTH = 256
"""A top or W is copied by recoils and radiation at most a few dozen times."""


@dataclass
class FlatRecord:
    """One batch of Pythia event records, flattened; `offsets[i]` is event i's first row."""

    counts: np.ndarray
    offsets: np.ndarray
    pid: np.ndarray
    status: np.ndarray
    mother1: np.ndarray
    mother2: np.ndarray
    daughter1: np.ndarray
    daughter2: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray

    @classmethod
    def from_batch(cls, batch: ak.Array) -> FlatRecord:
        prt = batch["prt"]
        counts = ak.to_numpy(ak.num(prt)).astype(np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)

        def flat(*path):
            arr = prt
            for name in path:
                arr = arr[name]
            return ak.to_numpy(ak.flatten(arr))

        return cls(
            counts=counts,
            offsets=offsets,
            pid=flat("id").astype(np.int32),
            status=flat("status").astype(np.int32),
            mother1=flat("mother1").astype(np.int64),
            mother2=flat("mother2").astype(np.int64),
            daughter1=flat("daughter1").astype(np.int64),
            daughter2=flat("daughter2").astype(np.int64),
            px=flat("p", "px"),
            py=flat("p", "py"),
            pz=flat("p", "pz"),
            e=flat("p", "e"),
        )

    @property
    def event_of_row(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.counts)), self.counts)


class ChargeTable:
    """PDG id -> electric charge, learnt from Pythia's particle data as new ids appear; lookups
    are a binary search over the ids seen so far (a few hundred)."""

    def __init__(self, lookup: Callable[[int], float]):
        self._lookup = lookup
        self._ids = np.zeros(0, dtype=np.int64)
        self._charges = np.zeros(0, dtype=np.float32)

    def __call__(self, pid: np.ndarray) -> np.ndarray:
        pid = np.asarray(pid, dtype=np.int64)
        position = np.searchsorted(self._ids, pid)
        known = position < len(self._ids)
        known[known] = self._ids[position[known]] == pid[known]
        if not known.all():
            new = np.unique(pid[~known])
            self._ids = np.concatenate([self._ids, new])
            self._charges = np.concatenate(
                [self._charges, np.array([self._lookup(int(c)) for c in new], dtype=np.float32)]
            )
            order = np.argsort(self._ids)
            self._ids, self._charges = self._ids[order], self._charges[order]
            position = np.searchsorted(self._ids, pid)
        return self._charges[position]


def hard_process(record: FlatRecord, charge: ChargeTable) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The hard-process particles (|status| 21-23: incoming, intermediate and outgoing, including
    the t -> b W and W -> q q' decays) with M1/M2/D1/D2 re-indexed into this short list
    (-1 when none), the way they chain in a full Delphes particle record.

    Returns the flat Delphes `Particle` fields and the per-event counts.
    """
    abs_status = np.abs(record.status)
    kept = np.flatnonzero((abs_status >= 21) & (abs_status <= 23))
    event = record.event_of_row[kept]
    counts = np.bincount(event, minlength=len(record.counts)).astype(np.int64)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    local_pos = np.arange(len(kept)) - first[event]

    bottom = _bottom_copies(record, kept)
    position_of_bottom = np.full(len(record.pid), -1, dtype=np.int64)
    position_of_bottom[bottom] = local_pos

    def kept_mother(mother_local: np.ndarray) -> np.ndarray:
        rows = record.offsets[event] + mother_local
        return np.where(mother_local > 0, position_of_bottom[rows], -1)

    m1 = kept_mother(record.mother1[kept])
    m2 = kept_mother(record.mother2[kept])
    m2 = np.where(m2 == m1, -1, m2)

    d1 = np.full(len(kept), np.iinfo(np.int64).max)
    d2 = np.full(len(kept), -1, dtype=np.int64)
    for mother in (m1, m2):
        has = mother >= 0
        target = first[event[has]] + mother[has]
        np.minimum.at(d1, target, local_pos[has])
        np.maximum.at(d2, target, local_pos[has])
    d1 = np.where(d2 >= 0, d1, -1)

    pt, eta, phi, mass = pt_eta_phi_mass(record.px[kept], record.py[kept], record.pz[kept], record.e[kept])
    fields = {
        "PID": record.pid[kept],
        "Status": abs_status[kept],
        "M1": m1.astype(np.int32),
        "M2": m2.astype(np.int32),
        "D1": d1.astype(np.int32),
        "D2": d2.astype(np.int32),
        "Charge": charge(record.pid[kept]).astype(np.int32),
        "Mass": mass,
        "E": record.e[kept],
        "Px": record.px[kept],
        "Py": record.py[kept],
        "Pz": record.pz[kept],
        "PT": pt,
        "Eta": eta,
        "Phi": phi,
    }
    return fields, counts


def _bottom_copies(record: FlatRecord, rows: np.ndarray) -> np.ndarray:
    """Follow each row down its chain of copies of the same particle (recoil copies, and the
    radiating copy after a branching such as t -> t g) to the last copy, the one that decays
    or hadronizes: Pythia's iBotCopyId."""
    current = rows.copy()
    offsets = record.offsets[record.event_of_row[rows]]
    abs_status = np.abs(record.status)
    hard = (abs_status >= 21) & (abs_status <= 23)  # an incoming g -> outgoing g is not a copy
    for _ in range(MAX_COPY_DEPTH):
        pid = record.pid[current]
        d1 = record.daughter1[current]
        d2 = record.daughter2[current]
        first_same = (d1 > 0) & (record.pid[offsets + d1] == pid) & ~hard[offsets + d1]
        second_same = (d2 > 0) & (record.pid[offsets + d2] == pid) & ~hard[offsets + d2] & ~first_same
        if not (first_same.any() or second_same.any()):
            return current
        current = np.where(first_same, offsets + d1, np.where(second_same, offsets + d2, current))
    raise RuntimeError("copy chain longer than MAX_COPY_DEPTH: malformed event record")


@dataclass
class FinalState:
    """Visible final-state particles of a batch (flat, with per-event counts)."""

    counts: np.ndarray
    pid: np.ndarray
    charge: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray
    pt: np.ndarray
    eta: np.ndarray


def visible_final_state(record: FlatRecord, charge: ChargeTable, eta_max: float) -> FinalState:
    """Stable particles except neutrinos, inside the calorimeter acceptance |eta| < eta_max."""
    stable = np.flatnonzero((record.status > 0) & ~np.isin(np.abs(record.pid), NEUTRINOS))
    pt, eta, _, _ = pt_eta_phi_mass(record.px[stable], record.py[stable], record.pz[stable], record.e[stable])
    accepted = (pt > 0) & (np.abs(eta) < eta_max)
    rows = stable[accepted]
    counts = np.bincount(record.event_of_row[rows], minlength=len(record.counts)).astype(np.int64)
    return FinalState(
        counts=counts,
        pid=record.pid[rows],
        charge=charge(record.pid[rows]),
        px=record.px[rows],
        py=record.py[rows],
        pz=record.pz[rows],
        e=record.e[rows],
        pt=pt[accepted],
        eta=eta[accepted],
    )


def flavour_partons(record: FlatRecord, pt_min: float, eta_max: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Quarks (d..b) and gluons anywhere in the record above `pt_min` and inside `eta_max`:
    the partons Delphes' JetFlavorAssociation looks at. Flat fields and per-event counts."""
    abs_pid = np.abs(record.pid)
    candidate = ((abs_pid <= 5) | (abs_pid == 21)) & (abs_pid > 0)
    candidate &= record.px**2 + record.py**2 > pt_min**2  # cheap pre-selection before eta
    rows = np.flatnonzero(candidate)
    pt, eta, phi, _ = pt_eta_phi_mass(record.px[rows], record.py[rows], record.pz[rows], record.e[rows])
    keep = (pt > pt_min) & (np.abs(eta) < eta_max)
    counts = np.bincount(record.event_of_row[rows[keep]], minlength=len(record.counts))
    return {"pid": abs_pid[rows[keep]], "eta": eta[keep], "phi": phi[keep]}, counts
