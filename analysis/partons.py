"""The decay partons of the topology (analysis.topology) found in a Delphes particle record: for
t tbar the six of b W+ bbar W- -> b q q' bbar q q', for t tbar H also the Higgs's b bbar.

Works on any record whose D1/D2 links chain the decays: the full Pythia record a real Delphes
file carries (copies of the top, W and H through recoil and radiation included) as well as the
short hard-process list the embedded generator writes. Columnar over events: the record comes
flattened (analysis.core.jagged.Columns) and every step is a numpy gather.

The PDG ids and the slot order (the order of the matching, the datasets and every assignment)
are the topology's: for t tbar b1, q1 of W1, q2 of W1, b2, q1 of W2, q2 of W2, where 1 is the
top (PID +6), 2 the antitop, and q1 is the W daughter with the higher pT (as in the SAJA paper's
Fig. 12); the partons of a two-body decay likewise, the harder first.
"""
from __future__ import annotations

import numpy as np

from analysis.core.jagged import Columns, event_index, last_of_runs
from analysis.topology import TOPOLOGY, Cascade, PairDecay, Topology

PARTON_FIELDS = ("PID", "D1", "D2", "PT", "Eta", "Phi", "Mass")
MAX_COPY_DEPTH = 200


def find_partons(particles: Columns, topology: Topology = TOPOLOGY) -> Columns:
    """Per event the decay partons (pt, eta, phi, mass, pid) in slot order, or none when the
    record lacks one of the topology's hadronic decay chains (QCD, leptonic W decays).
    `particles`: the PARTON_FIELDS columns of the events' particle records."""
    chosen = {"pt": "PT", "eta": "Eta", "phi": "Phi", "mass": "Mass", "pid": "PID"}
    if not len(particles["PID"]):  # no record at all: nothing to follow
        return Columns(particles.counts, {name: particles[field] for name, field in chosen.items()})
    record = _Record(particles)
    rows, complete = [None] * len(topology.slots), np.ones(len(particles), dtype=bool)
    for cascade in topology.cascades:
        b, q1, q2, found = record.decay(cascade, topology)
        for slot, row in zip(cascade.slots, (b, q1, q2), strict=True):
            rows[slot] = row
        complete &= found
    for pair in topology.pairs:
        first, second, found = record.pair_decay(pair, topology)
        rows[pair.pair[0]], rows[pair.pair[1]] = first, second
        complete &= found
    rows = np.stack(rows, axis=1)[complete].ravel()  # slot order, complete events only
    return Columns(np.where(complete, len(topology.slots), 0),
                   {name: particles[field][rows] for name, field in chosen.items()})


def _pdg_ids(cascade: Cascade, topology: Topology) -> tuple[int, int, int, tuple[int, ...]]:
    """(top, W, b, |quark|s) PDG ids of a cascade: the top's own daughters carry its sign, the
    W's quarks are either sign."""
    (b_id,) = topology.daughters[topology.slots[cascade.spectator].daughter].pdg_ids
    quark_ids = topology.daughters[topology.slots[cascade.pair[0]].daughter].pdg_ids
    sign = cascade.charge
    return sign * cascade.outer.pdg_id, sign * cascade.inner.pdg_id, sign * b_id, quark_ids


class _Record:
    """A flattened particle record with global row indices for the D1/D2 links."""

    def __init__(self, particles: Columns):
        self.pid = particles["PID"].astype(np.int64)
        self.pt = particles["PT"]
        self.event = event_index(particles.counts)
        self.n_events = len(particles)
        self.d1 = self._global(particles["D1"], particles.counts)
        self.d2 = self._global(particles["D2"], particles.counts)
        self.d1_pid, self.d2_pid = self._pid_at(self.d1), self._pid_at(self.d2)

    def _global(self, local: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Local link -> global row; -1 for no link or a link outside the event."""
        local = local.astype(np.int64)
        size = counts[self.event]
        ok = (local >= 0) & (local < size)
        return np.where(ok, (np.cumsum(counts) - counts)[self.event] + local, -1)

    def _pid_at(self, rows: np.ndarray) -> np.ndarray:
        return np.where(rows >= 0, self.pid[np.maximum(rows, 0)], 0)

    def decay(self, cascade: Cascade, topology: Topology) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Global rows of (b, q1, q2) per event for the top (charge +1) or antitop (-1) of a
        cascade, and whether the event has that hadronic decay chain: t -> b W (a copy of the
        W) -> two quarks (either sign)."""
        top_id, w_id, b_id, quark_ids = _pdg_ids(cascade, topology)
        first, second = self.d1_pid, self.d2_pid
        decays = (self.pid == top_id) & (
            ((first == b_id) & (second == w_id))
            | ((first == w_id) & (second == b_id))
        )
        top = np.full(self.n_events, -1, dtype=np.int64)
        rows = np.flatnonzero(decays)  # ascending, so grouped by event
        last = rows[last_of_runs(self.event[rows])]  # the last decaying copy, if several
        top[self.event[last]] = last
        has_top = top >= 0
        t = np.maximum(top, 0)
        b_first = self._pid_at(self.d1[t]) == b_id
        b = np.where(b_first, self.d1[t], self.d2[t])
        w = self._last_copy(np.where(b_first, self.d2[t], self.d1[t]))
        q_a, q_b = self.d1[w], self.d2[w]
        pid_a, pid_b = np.abs(self._pid_at(q_a)), np.abs(self._pid_at(q_b))
        hadronic = np.isin(pid_a, quark_ids) & np.isin(pid_b, quark_ids) & (q_a != q_b)
        a_harder = self.pt[np.maximum(q_a, 0)] >= self.pt[np.maximum(q_b, 0)]
        q1, q2 = np.where(a_harder, q_a, q_b), np.where(a_harder, q_b, q_a)
        return b, q1, q2, has_top & hadronic

    def pair_decay(self, pair: PairDecay, topology: Topology) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Global rows of the two partons per event (the harder first) of a two-body decay, and
        whether the event has it: the last copy of the particle (H, PID 25) decaying into a quark
        and its antiquark (b bbar); a charged particle's partons may be any pair of the ids."""
        (parton_id,) = topology.daughters[topology.slots[pair.pair[0]].daughter].pdg_ids
        own_id = (pair.charge or 1) * pair.resonance.pdg_id
        first, second = self.d1_pid, self.d2_pid
        decays = (self.pid == own_id) & (np.abs(first) == parton_id) & (np.abs(second) == parton_id)
        if pair.charge == 0:
            decays &= first == -second
        parent = np.full(self.n_events, -1, dtype=np.int64)
        rows = np.flatnonzero(decays)
        last = rows[last_of_runs(self.event[rows])]
        parent[self.event[last]] = last
        found = parent >= 0
        p = np.maximum(parent, 0)
        a, b = self.d1[p], self.d2[p]
        a_harder = self.pt[np.maximum(a, 0)] >= self.pt[np.maximum(b, 0)]
        return np.where(a_harder, a, b), np.where(a_harder, b, a), found & (a != b)

    def _last_copy(self, rows: np.ndarray) -> np.ndarray:
        """Follow a particle through its copies (same PID as a daughter) to the one that decays."""
        current = rows.copy()
        for _ in range(MAX_COPY_DEPTH):
            pid = self._pid_at(current)
            valid = current >= 0
            d1, d2 = self.d1[np.maximum(current, 0)], self.d2[np.maximum(current, 0)]
            copy_first = valid & (self._pid_at(d1) == pid) & (d1 >= 0)
            copy_second = valid & ~copy_first & (self._pid_at(d2) == pid) & (d2 >= 0)
            if not (copy_first.any() or copy_second.any()):
                return current
            current = np.where(copy_first, d1, np.where(copy_second, d2, current))
        raise ValueError("particle copy chain longer than MAX_COPY_DEPTH: malformed D1/D2 links")
