"""Exclusive Delta R jet-parton matching and the truth labels (SAJA paper sec. 3).

All jet-parton pairs closer than dr_max are candidates; the nearest pair is matched first and
both its jet and parton are removed, until no candidate pair is left. Columnar: the candidate
pairs of all events are flat arrays, ranked by distance within their event, and every event
considers its pair of each rank at once.

Per jet a class of the topology (analysis.topology; t tbar: b1, W1, b2, W2, other; 1 = top,
2 = antitop), per parton slot the matched jet index (-1 if none), per event a category in
CATEGORIES: `matched` when all slots are matched, `unmatched` for the other events with the
topology's decay chains, `background` for events without them.
"""
from __future__ import annotations

import awkward as ak
import numpy as np

from analysis.core import jagged
from analysis.core.jagged import Columns
from analysis.core.kinematics import wrap_phi
from analysis.topology import BACKGROUND, MATCHED, UNMATCHED, Topology


def delta_r(eta1: np.ndarray, phi1: np.ndarray, eta2: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    return np.sqrt(delta_r2(eta1, phi1, eta2, phi2))


def delta_r2(eta1: np.ndarray, phi1: np.ndarray, eta2: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    """Delta R squared: orders pairs as Delta R does, without the square root."""
    d_eta, d_phi = eta1 - eta2, wrap_phi(phi1 - phi2)
    return d_eta * d_eta + d_phi * d_phi


class Pairs:
    """Every jet-parton pair of a set of events with its Delta R squared, in the order that
    breaks ties (event, then jet, then parton), as the per-event reference loop does.

    Jets are flat (all jets of all events, `n_jets` per event); partons are (events, partons)
    with NaN for a missing one. Built once, matched at any dr_max (the dr_max scan)."""

    def __init__(self, jet_eta: np.ndarray, jet_phi: np.ndarray, n_jets: np.ndarray,
                 parton_eta: np.ndarray, parton_phi: np.ndarray):
        self.event = jagged.event_index(n_jets)
        self.jet_in_event = jagged.local_index(n_jets)
        self.shape = parton_eta.shape
        self.dr2 = np.empty((len(self.event), self.shape[1]))
        jet_eta, jet_phi = jet_eta.astype(np.float64), jet_phi.astype(np.float64)
        with np.errstate(invalid="ignore"):
            for slot in range(self.shape[1]):  # slot by slot: temporaries of one value per jet
                self.dr2[:, slot] = delta_r2(jet_eta, jet_phi, parton_eta[:, slot].take(self.event),
                                             parton_phi[:, slot].take(self.event))

    @classmethod
    def of(cls, jets: Columns, partons: Columns, n_slots: int) -> Pairs:
        """The pairs of the jets and partons (eta, phi columns; `n_slots` per event with the
        topology's decays, none otherwise) of the same events."""
        return cls(jets["eta"], jets["phi"], jets.counts,
                   partons.padded("eta", n_slots), partons.padded("phi", n_slots))

    def match(self, dr_max: float) -> np.ndarray:
        """Matched jet index per parton, (events, partons), -1 if none.

        Each event's candidate pairs are ranked by distance, ties in (jet, parton) order; rank
        after rank, every event takes its pair of that rank if the jet and the parton are both
        still free: the nearest-first matching, run for all events at once."""
        with np.errstate(invalid="ignore"):
            pair = np.flatnonzero(self.dr2 < dr_max**2)  # NaN (no parton) compares False
        jet, parton = np.divmod(pair, self.shape[1])
        event = self.event[jet]
        parton_jet = np.full(self.shape, -1, dtype=np.int64)
        jet_taken = np.zeros(len(self.event), dtype=bool)
        for candidate in _ranked(self.dr2.ravel()[pair], event).T:
            j, p, e = jet[candidate], parton[candidate], event[candidate]
            take = (candidate >= 0) & ~jet_taken[j] & (parton_jet[e, p] < 0)
            parton_jet[e[take], p[take]] = self.jet_in_event[j[take]]
            jet_taken[j[take]] = True
        return parton_jet


def _ranked(distance: np.ndarray, event: np.ndarray) -> np.ndarray:
    """(events with pairs, most pairs in one event): each event's pair indices by increasing
    distance (a stable sort: ties keep their order), -1 after its last pair. Pairs come
    grouped by event."""
    first = np.flatnonzero(jagged.first_of_runs(event))
    size = np.diff(np.append(first, len(event)))
    dense = np.full((len(first), size.max(initial=0)), np.inf)
    dense[jagged.event_index(size), jagged.local_index(size)] = distance
    order = np.argsort(dense, axis=1, kind="stable")
    return np.where(order < size[:, None], first[:, None] + order, -1)


def jet_labels(parton_jet: np.ndarray, n_jets: np.ndarray, topology: Topology) -> ak.Array:
    """Per-jet class index (the topology's classes) from the matched jet of each parton slot."""
    width = max(int(n_jets.max(initial=0)), 1)
    labels = np.full((len(parton_jet), width), topology.other_class, dtype=np.int8)
    ev, slot = np.nonzero(parton_jet >= 0)
    labels[ev, parton_jet[ev, slot]] = np.array(topology.slot_classes)[slot]
    keep = np.arange(width)[None, :] < n_jets[:, None]
    return ak.unflatten(labels[keep], n_jets)


def positions(events: ak.Array) -> tuple[Columns, Columns]:
    """The (eta, phi) columns of the jets and of the partons of skim records."""
    return Columns.of(events.jets, ("eta", "phi")), Columns.of(events.partons, ("eta", "phi"))


def categories(n_partons: np.ndarray, parton_jet: np.ndarray) -> np.ndarray:
    """Event category from the number of partons found (one per slot of `parton_jet`, or none)
    and the matching."""
    all_matched = (parton_jet >= 0).all(axis=1)
    return np.where(n_partons != parton_jet.shape[1], BACKGROUND,
                    np.where(all_matched, MATCHED, UNMATCHED)).astype(np.int8)


class MatchingTables:
    """The figures' tables: matched fraction vs dr_max (Fig. 2), N_jets of matched events (Fig. 3),
    fraction of matched events with all partons among the leading N jets (Fig. 4)."""

    def __init__(self, dr_scan: tuple[float, ...], n_slots: int):
        self.dr_scan = tuple(dr_scan)
        self.n_slots = n_slots
        self.ttbar_events = 0
        self.matched_by_dr = np.zeros(len(dr_scan), dtype=np.int64)
        self.n_jets_matched: dict[int, int] = {}
        self.leading_needed: dict[int, int] = {}

    def fill(self, pairs: Pairs, n_jets: np.ndarray, parton_jet: np.ndarray, category: np.ndarray) -> None:
        """One group of events: their pairs (rematched at every dr_scan value; background events
        have no parton, so no pair), jets per event, matching and category at dr_max."""
        self.ttbar_events += int((category != BACKGROUND).sum())
        for i, dr in enumerate(self.dr_scan):
            scanned = pairs.match(dr)
            self.matched_by_dr[i] += int((scanned >= 0).all(axis=1).sum())
        matched = category == MATCHED
        n_jets = n_jets[matched]
        needed = parton_jet[matched].max(axis=1, initial=-1) + 1  # leading jets that hold every parton
        for table, values in ((self.n_jets_matched, n_jets), (self.leading_needed, needed)):
            for value, count in zip(*np.unique(values, return_counts=True), strict=True):
                table[int(value)] = table.get(int(value), 0) + int(count)

    def as_dict(self) -> dict:
        n = self.ttbar_events
        fraction = self.matched_by_dr / n if n else np.zeros(len(self.dr_scan))
        error = np.sqrt(fraction * (1 - fraction) / n) if n else np.zeros(len(self.dr_scan))
        matched = sum(self.n_jets_matched.values())
        max_jets = max(self.n_jets_matched, default=self.n_slots)
        leading_n = list(range(self.n_slots, max_jets + 1))
        within = [sum(c for k, c in self.leading_needed.items() if k <= n_lead) / matched if matched else 0.0
                  for n_lead in leading_n]
        n_jets = sorted(self.n_jets_matched)
        return {
            "ttbar_events": n,
            "matched_fraction_vs_dr": {"dr_max": list(self.dr_scan), "matched": self.matched_by_dr.tolist(),
                                       "fraction": fraction.tolist(), "error": error.tolist()},
            "n_jets_matched": {"n_jets": n_jets, "events": [self.n_jets_matched[k] for k in n_jets]},
            "fraction_within_leading_n": {"n": leading_n, "fraction": within},
        }
