"""Resonance candidate masses from a method's assignments, after its score cut, normalised to
an integrated luminosity (paper Fig. 8): the W and top of each cascade and, for a topology with
two-body decays (t tbar H), the Higgs's b b pair.

An event's yield is luminosity x weight_pb x (selected cross-section of its sample / the sum of
weight_pb over the sample's evaluation events): the evaluation set of the training sample is
only its test split, and this factor scales it back to the whole selected sample, so that each
sample's histogram integrates to sigma x L x efficiency of its cutflow.
"""
from __future__ import annotations

import hist
import numpy as np

from analysis.core.kinematics import cascade_masses, four_vectors, pair_masses
from analysis.evaluation.metrics import Events
from analysis.topology import MATCHED, UNMATCHED, Resonance, Topology

GROUPS = ("correct", "wrong", "unmatched", "background")
"""Stacking order of Fig. 8: correctly and wrongly assigned matched ttbar, unmatched ttbar, QCD."""
TWO_JET_AXIS = hist.axis.Regular(40, 0, 200, name="mass", label=r"$m_{jj}$ [GeV]")
"""The axis of two-jet candidates: the W's q q' and the Higgs's b b."""
THREE_JET_AXIS = hist.axis.Regular(40, 50, 350, name="mass", label=r"$m_{jjj}$ [GeV]")
"""The axis of three-jet candidates: the top's b q q'."""


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


def mass_candidates(topology: Topology) -> dict[str, tuple[Resonance, hist.axis.Regular]]:
    """The resonances whose candidate masses Fig. 8 shows, each with its histogram's axis, keyed
    by the resonance's name in lower case (metrics.json's `reconstruction` keys): the inner (W)
    and outer (top) resonance of the cascades, then those of the two-body decays (t tbar H: the
    Higgs, "higgs")."""
    out = {}
    if topology.cascades:
        top, w = topology.cascade_resonances
        out.update({w.name.lower(): (w, TWO_JET_AXIS), top.name.lower(): (top, THREE_JET_AXIS)})
    out.update({p.resonance.name.lower(): (p.resonance, TWO_JET_AXIS) for p in topology.pairs})
    return out


def candidate_masses(jets: dict[str, np.ndarray], assignment: np.ndarray, topology: Topology
                     ) -> dict[str, np.ndarray]:
    """Per resonance of `mass_candidates`, the masses (events, candidates) of the assigned jets:
    the two W and the two tops of t tbar, the Higgs's b b pair of t tbar H; NaN where a slot is
    unassigned."""
    p4 = four_vectors(jets["pt"], jets["eta"], jets["phi"], jets["mass"])
    out = {}
    if topology.cascades:
        top, w = topology.cascade_resonances
        out[w.name.lower()], out[top.name.lower()] = cascade_masses(p4, assignment, topology.cascade_slots)
    for name in dict.fromkeys(p.resonance.name for p in topology.pairs):
        pairs = tuple(p.pair for p in topology.pairs if p.resonance.name == name)
        out[name.lower()] = pair_masses(p4, assignment, pairs)
    return out


def mass_histograms(events: Events, jets: dict[str, np.ndarray], weights: np.ndarray, cut: float
                    ) -> dict[str, hist.Hist]:
    """Candidate histograms per resonance of `mass_candidates` (t tbar: two W and two top
    candidates per event) by group, for events passing the cut."""
    accepted = events.valid & (events.score <= cut)
    masses = candidate_masses(jets, events.assignment, events.topology)
    group = np.array(GROUPS)[groups(events)]
    out = {}
    for name, (_, axis) in mass_candidates(events.topology).items():
        h = hist.Hist(axis, hist.axis.StrCategory(GROUPS, name="group"), storage=hist.storage.Weight())
        for k in range(masses[name].shape[1]):
            chosen = accepted & np.isfinite(masses[name][:, k])
            h.fill(mass=masses[name][chosen, k], group=group[chosen], weight=weights[chosen])
        out[name] = h
    return out
