"""The reference for the columnar matching: a plain per-event Python loop, written from the
paper's words (all pairs below dr_max, nearest first, both removed), kept deliberately simple."""
from __future__ import annotations

import math


def delta_phi(a: float, b: float) -> float:
    d = a - b
    while d >= math.pi:
        d -= 2 * math.pi
    while d < -math.pi:
        d += 2 * math.pi
    return d


def match_event(jets: list[tuple[float, float]], partons: list[tuple[float, float]], dr_max: float) -> list[int]:
    """Matched jet index per parton (-1 if none); jets and partons are (eta, phi) pairs."""
    pairs = []
    for j, (jet_eta, jet_phi) in enumerate(jets):
        for p, (parton_eta, parton_phi) in enumerate(partons):
            dr = math.hypot(jet_eta - parton_eta, delta_phi(jet_phi, parton_phi))
            if dr < dr_max:
                pairs.append((dr, j, p))
    pairs.sort(key=lambda pair: pair[0])  # stable: ties keep (jet, parton) order
    result = [-1] * len(partons)
    used_jets = set()
    for _, j, p in pairs:
        if j not in used_jets and result[p] < 0:
            result[p] = j
            used_jets.add(j)
    return result


def match_events(events, dr_max: float) -> list[list[int]]:
    """`events`: skim records (awkward); loops over them one by one."""
    out = []
    for event in events.to_list():
        jets = [(jet["eta"], jet["phi"]) for jet in event["jets"]]
        partons = [(parton["eta"], parton["phi"]) for parton in event["partons"]]
        out.append(match_event(jets, partons, dr_max) if partons else [-1] * 6)
    return out
