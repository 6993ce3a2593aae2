"""Anti-kT jets from reconstructed candidates, with flavour and the SAJA jet-shape inputs.

Clustering runs through fastjet's batched awkward interface (one C++ call per batch); every
per-jet quantity is then a numpy reduction over the flat list of constituents.
"""
from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import fastjet
import numpy as np

from analysis.core.kinematics import pt_eta_phi_mass, wrap_phi
from analysis.events.detector import CANDIDATE_TYPES, Candidates

SHAPE_BRANCHES = ("PTD", "AxisMajor", "AxisMinor", "NChargedHadrons", "NNeutralHadrons",
                  "NPhotons", "NElectrons", "NMuons")
"""The eight jet-shape inputs of the SAJA paper (sec. 3.1), as written in the Jet collection."""


@dataclass
class JetBatch:
    """Jets of a batch, flat in jet order (events, then pT-descending), plus their constituents."""

    counts: np.ndarray
    fields: dict[str, np.ndarray]
    constituent_counts: np.ndarray
    constituent_rows: np.ndarray
    """Row in the batch's flat candidate arrays of each constituent, jet after jet."""


def cluster(candidates: Candidates, radius: float, pt_min: float) -> JetBatch:
    """Anti-kT(R) jets above `pt_min`, sorted by pT within each event (as Delphes writes them)."""
    vectors = ak.unflatten(
        ak.zip({"px": candidates.px, "py": candidates.py, "pz": candidates.pz, "E": candidates.e}),
        candidates.counts,
    )
    sequence = fastjet.ClusterSequence(vectors, fastjet.JetDefinition(fastjet.antikt_algorithm, radius))
    jets = sequence.inclusive_jets(pt_min)
    index = sequence.constituent_index(pt_min)
    order = ak.argsort(np.hypot(jets.px, jets.py), axis=1, ascending=False)
    jets, index = jets[order], index[order]

    counts = ak.to_numpy(ak.num(jets)).astype(np.int64)
    pt, eta, phi, mass = pt_eta_phi_mass(*(ak.to_numpy(ak.flatten(jets[c])) for c in ("px", "py", "pz", "E")))
    constituent_counts = ak.to_numpy(ak.flatten(ak.num(index, axis=2))).astype(np.int64)
    event_first_row = np.concatenate([[0], np.cumsum(candidates.counts)[:-1]])
    jet_event = np.repeat(np.arange(len(counts)), counts)
    rows = ak.to_numpy(ak.flatten(index, axis=None)).astype(np.int64) + np.repeat(
        event_first_row[jet_event], constituent_counts
    )
    return JetBatch(
        counts=counts,
        fields={"PT": pt, "Eta": eta, "Phi": phi, "Mass": mass},
        constituent_counts=constituent_counts,
        constituent_rows=rows,
    )


def shape_moments(jet_of: np.ndarray, n_jets: int, pt: np.ndarray, d_eta: np.ndarray, d_phi: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pT_D, major axis, minor axis) per jet from its constituents' pT and (eta, phi) offsets to
    the jet axis, flat with the jet index `jet_of` of each constituent: the pT^2-weighted
    (eta, phi) covariance's eigenvalues give the axes (CMS quark/gluon likelihood)."""
    def per_jet(values: np.ndarray) -> np.ndarray:
        return np.bincount(jet_of, weights=values, minlength=n_jets)

    w = pt * pt
    sum_w = per_jet(w)
    mean_eta, mean_phi = per_jet(w * d_eta) / sum_w, per_jet(w * d_phi) / sum_w
    m11 = per_jet(w * d_eta**2) / sum_w - mean_eta**2
    m22 = per_jet(w * d_phi**2) / sum_w - mean_phi**2
    m12 = per_jet(w * d_eta * d_phi) / sum_w - mean_eta * mean_phi
    half_trace = 0.5 * (m11 + m22)
    root = np.sqrt(np.maximum((0.5 * (m11 - m22)) ** 2 + m12**2, 0.0))
    return (np.sqrt(sum_w) / per_jet(pt), np.sqrt(np.maximum(half_trace + root, 0.0)),
            np.sqrt(np.maximum(half_trace - root, 0.0)))


def add_shapes(jets: JetBatch, candidates: Candidates) -> None:
    """pT_D, major/minor axes in (eta, phi) and the multiplicity of each candidate type, from
    each jet's constituents (CMS quark/gluon variables, generalised as in the SAJA paper), plus
    Delphes' NCharged / NNeutrals."""
    n_jets = len(jets.constituent_counts)
    jet_of = np.repeat(np.arange(n_jets), jets.constituent_counts)
    pt, eta, phi = (a[jets.constituent_rows] for a in candidates.pt_eta_phi())
    kind = candidates.kind[jets.constituent_rows]

    d_eta = eta - jets.fields["Eta"][jet_of]
    d_phi = wrap_phi(phi - jets.fields["Phi"][jet_of])
    jets.fields["PTD"], jets.fields["AxisMajor"], jets.fields["AxisMinor"] = shape_moments(
        jet_of, n_jets, pt, d_eta, d_phi)
    multiplicity = {
        name: np.bincount(jet_of[kind == code], minlength=n_jets).astype(np.int32)
        for code, name in enumerate(CANDIDATE_TYPES)
    }
    for branch, name in zip(SHAPE_BRANCHES[3:], CANDIDATE_TYPES, strict=True):
        jets.fields[branch] = multiplicity[name]
    charged = candidates.charge[jets.constituent_rows] != 0
    jets.fields["NCharged"] = np.bincount(jet_of[charged], minlength=n_jets).astype(np.int32)
    jets.fields["NNeutrals"] = np.bincount(jet_of[~charged], minlength=n_jets).astype(np.int32)


def flavour(jets: JetBatch, partons: dict[str, np.ndarray], parton_counts: np.ndarray,
            delta_r: float) -> np.ndarray:
    """Delphes' jet flavour: the highest-priority parton within `delta_r` of the jet axis,
    b (5) > c (4) > s, u, d > gluon (21); 0 when there is none."""
    n_jets = len(jets.fields["PT"])
    jet_event = np.repeat(np.arange(len(jets.counts)), jets.counts)
    pairs_per_jet = parton_counts[jet_event]
    parton_first = np.concatenate([[0], np.cumsum(parton_counts)[:-1]])
    pair_first = np.concatenate([[0], np.cumsum(pairs_per_jet)[:-1]])
    pair_jet = np.repeat(np.arange(n_jets), pairs_per_jet)
    pair_parton = parton_first[jet_event][pair_jet] + np.arange(len(pair_jet)) - pair_first[pair_jet]

    d_eta = jets.fields["Eta"][pair_jet] - partons["eta"][pair_parton]
    d_phi = np.abs(jets.fields["Phi"][pair_jet] - partons["phi"][pair_parton])
    d_phi = np.minimum(d_phi, 2 * np.pi - d_phi)
    pid = partons["pid"][pair_parton]
    priority = np.where(d_eta**2 + d_phi**2 < delta_r**2, np.where(pid == 21, 0.5, pid), 0.0)

    best = np.zeros(n_jets)
    has = pairs_per_jet > 0
    if has.any():
        best[has] = np.maximum.reduceat(priority, pair_first[has])
    return np.where(best == 0.5, 21, best).astype(np.int32)
