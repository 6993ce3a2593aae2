"""W and top candidate masses from a method's assignments, after its score cut, normalised to
an integrated luminosity (paper Fig. 8).

An event's yield is luminosity x weight_pb x (selected cross-section of its sample / the sum of
weight_pb over the sample's evaluation events): the evaluation set of the training sample is
only its test split, and this factor scales it back to the whole selected sample, so that each
sample's histogram integrates to sigma x L x efficiency of its cutflow.
"""
from __future__ import annotations

import hist
import numpy as np

from analysis.core.kinematics import cascade_masses, four_vectors
from analysis.evaluation.metrics import Events
from analysis.topology import MATCHED, TOPOLOGY, UNMATCHED

GROUPS = ("correct", "wrong", "unmatched", "background")
"""Stacking order of Fig. 8: correctly and wrongly assigned matched ttbar, unmatched ttbar, QCD."""
W_AXIS = hist.axis.Regular(40, 0, 200, name="mass", label=r"$m_{jj}$ [GeV]")
TOP_AXIS = hist.axis.Regular(40, 50, 350, name="mass", label=r"$m_{jjj}$ [GeV]")


def yields(events: Events, selected_pb: dict[str, float], luminosity_pb: float) -> np.ndarray:
    """Expected events per evaluation event at `luminosity_pb` (pb^-1)."""
    out = np.zeros(len(events))
    for sample, cross_section in selected_pb.items():
        chosen = events.sample == sample
        total = events.weight_pb[chosen].sum()
        if total > 0:
            out[chosen] = luminosity_pb * events.weight_pb[chosen] * cross_section / total
    return out


def score_cut(events: Events, cut: float | None, efficiency: float | None) -> float | None:
    """The cut that keeps `efficiency` of the matched ttbar events when given (None when no
    matched event has a valid assignment), else `cut`."""
    if efficiency is None:
        return float(cut) if cut is not None else float("inf")
    scores = events.score[(events.category == MATCHED) & events.valid]
    matched = int((events.category == MATCHED).sum())
    if matched == 0 or len(scores) == 0:
        return None
    rank = int(np.ceil(efficiency * matched)) - 1
    if rank >= len(scores):
        return float("inf")
    return float(np.sort(scores)[max(rank, 0)])


def groups(events: Events) -> np.ndarray:
    """Index into GROUPS per event."""
    group = np.full(len(events), GROUPS.index("background"))
    group[events.category == UNMATCHED] = GROUPS.index("unmatched")
    matched = events.category == MATCHED
    group[matched & events.correct] = GROUPS.index("correct")
    group[matched & ~events.correct] = GROUPS.index("wrong")
    return group


def candidate_masses(jets: dict[str, np.ndarray], assignment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(W masses (events, tops), top masses (events, tops)) of assigned jets; NaN where unassigned."""
    p4 = four_vectors(jets["pt"], jets["eta"], jets["phi"], jets["mass"])
    return cascade_masses(p4, assignment, TOPOLOGY.cascade_slots)


def mass_histograms(events: Events, jets: dict[str, np.ndarray], weights: np.ndarray, cut: float
                    ) -> dict[str, hist.Hist]:
    """W and top candidate histograms (two entries per event) by group, for events passing the cut."""
    accepted = events.valid & (events.score <= cut)
    w_mass, top_mass = candidate_masses(jets, events.assignment)
    group = np.array(GROUPS)[groups(events)]
    out = {}
    for name, axis, masses in (("w", W_AXIS, w_mass), ("top", TOP_AXIS, top_mass)):
        h = hist.Hist(axis, hist.axis.StrCategory(GROUPS, name="group"), storage=hist.storage.Weight())
        for k in range(len(TOPOLOGY.cascades)):
            chosen = accepted & np.isfinite(masses[:, k])
            h.fill(mass=masses[chosen, k], group=group[chosen], weight=weights[chosen])
        out[name] = h
    return out
