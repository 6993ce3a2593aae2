"""Plain per-event Python loops, written from the paper's words and kept deliberately simple:
the references the columnar skim and matching are tested (and benchmarked) against."""
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


def passes_selection(jets: list[dict], cuts) -> bool:
    """`jets`: dicts with pt, eta, btag."""
    used = [jet for jet in jets if jet["pt"] > cuts.jet_pt_min and abs(jet["eta"]) < cuts.jet_eta_max]
    hard = [jet for jet in used if jet["pt"] > cuts.n_jets_pt_min]
    return (len(hard) >= cuts.n_jets_min and sum(jet["btag"] > 0 for jet in hard) >= cuts.n_btag_min
            and sum(jet["pt"] for jet in used) > cuts.ht_min)


def ttbar_partons(particles: list[dict]) -> list[dict]:
    """The six decay partons in slot order (b1, q1_1, q2_1, b2, q1_2, q2_2), or [] if none."""
    def daughters(i):
        return [d for d in (particles[i]["D1"], particles[i]["D2"]) if 0 <= d < len(particles)]

    out = []
    for sign in (1, -1):
        tops = [i for i, p in enumerate(particles) if p["PID"] == 6 * sign
                and sorted(particles[d]["PID"] * sign for d in daughters(i)) == [5, 24]]
        if not tops:
            return []
        b, w = sorted(daughters(tops[-1]), key=lambda d: abs(particles[d]["PID"]))
        while True:  # follow the W through its copies
            copies = [d for d in daughters(w) if particles[d]["PID"] == particles[w]["PID"]]
            if not copies:
                break
            w = copies[0]
        quarks = sorted(dict.fromkeys(daughters(w)), key=lambda d: -particles[d]["PT"])
        if len(quarks) != 2 or not all(1 <= abs(particles[q]["PID"]) <= 5 for q in quarks):
            return []
        out += [particles[i] for i in (b, *quarks)]
    return out


def match_events(events, dr_max: float) -> list[list[int]]:
    """`events`: skim records (awkward); loops over them one by one."""
    out = []
    for event in events.to_list():
        jets = [(jet["eta"], jet["phi"]) for jet in event["jets"]]
        partons = [(parton["eta"], parton["phi"]) for parton in event["partons"]]
        out.append(match_event(jets, partons, dr_max) if partons else [-1] * 6)
    return out
