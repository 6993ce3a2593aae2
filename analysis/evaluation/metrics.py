"""Metrics of jet-parton assignment, computed from the common assignment format only.

Every function takes per-event numpy columns of `analysis.assignments` files (truth and assigned
slots, category, score, validity, weights, per-jet probabilities) with the topology they are
slots of, so a method added later is measured like every other and a topology declared later
(t tbar H) like t tbar. Assignments are compared up to the topology's symmetries (t <-> tbar,
q1 <-> q2, and for t tbar H the Higgs's b <-> bbar).
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

import awkward as ak
import numpy as np

from analysis.assignments import correct
from analysis.topology import BACKGROUND, CATEGORIES, MATCHED, TOPOLOGY, UNMATCHED, Topology


def jet_bins(topology: Topology) -> tuple[tuple[int, int | None], ...]:
    """N_jets bins of the paper's Fig. 7, from the slot count n: n, n + 1, n + 2 and >= n + 3
    (t tbar: 6, 7, 8, >= 9; t tbar H: 8, 9, 10, >= 11)."""
    n = len(topology.slots)
    return (n, n), (n + 1, n + 1), (n + 2, n + 2), (n + 3, None)


def table_bins(topology: Topology) -> tuple[tuple[int, int | None], ...]:
    """N_jets rows of the SPANet talk's tables, from the slot count n: n, n + 1, >= n + 2 and all
    (t tbar: 6, 7, >= 8; t tbar H: 8, 9, >= 10, as the talk's t tbar H table)."""
    n = len(topology.slots)
    return (n, n), (n + 1, n + 1), (n + 2, None), (n, None)


@dataclass(frozen=True)
class Events:
    """One method's assignments of one or more samples, as numpy columns, and the topology whose
    slots `truth` and `assignment` hold."""

    sample: np.ndarray
    event: np.ndarray
    category: np.ndarray
    weight_pb: np.ndarray
    n_jets: np.ndarray
    truth: np.ndarray
    assignment: np.ndarray
    valid: np.ndarray
    score: np.ndarray
    probabilities: ak.Array
    topology: Topology

    @classmethod
    def from_table(cls, table: ak.Array, topology: Topology = TOPOLOGY) -> Events:
        n_slots = len(topology.slots)
        return cls(sample=ak.to_numpy(table.sample).astype(str), event=ak.to_numpy(table.event),
                   category=ak.to_numpy(table.category),
                   weight_pb=ak.to_numpy(table.weight_pb), n_jets=ak.to_numpy(table.n_jets),
                   truth=np.asarray(ak.to_numpy(table.truth), dtype=np.int64).reshape(-1, n_slots),
                   assignment=np.asarray(ak.to_numpy(table.assignment), dtype=np.int64).reshape(-1, n_slots),
                   valid=ak.to_numpy(table.valid).astype(bool), score=ak.to_numpy(table.score).astype(np.float64),
                   probabilities=table.probabilities, topology=topology)

    @classmethod
    def columns(cls) -> tuple[str, ...]:
        """The per-event fields (all but the topology)."""
        return tuple(f.name for f in fields(cls) if f.name != "topology")

    def __len__(self) -> int:
        return len(self.category)

    def select(self, keep: np.ndarray) -> Events:
        return replace(self, **{name: getattr(self, name)[keep] for name in self.columns()})

    @property
    def correct(self) -> np.ndarray:
        return self.valid & correct(self.assignment, self.truth, self.topology)

    @property
    def has_probabilities(self) -> bool:
        return len(self) > 0 and ak.sum(ak.num(self.probabilities, axis=1)) > 0


def particles_correct(assignment: np.ndarray, truth: np.ndarray, topology: Topology
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(reconstructable (events, particles), found (events, particles)) for every particle of the
    topology (the tops, and the Higgs of t tbar H): a truth particle is reconstructable when all
    its partons are matched, and found when an assigned particle it may be relabelled into (the
    topology's particle permutations: t <-> tbar) has the same jets in the same slots up to its
    symmetries (the same b and the same pair of W jets; the same pair of Higgs jets)."""
    def particle(slots: np.ndarray, k: int) -> np.ndarray:
        columns = slots[:, list(topology.particle_slots[k])]
        for group in topology.particles[k].symmetric:
            at = [topology.particles[k].daughters.index(d) for d in group]
            columns[:, at] = np.sort(columns[:, at], axis=1)
        return columns

    reconstructable = np.stack([(truth[:, list(c)] >= 0).all(axis=1) for c in topology.particle_slots], axis=1)
    found = np.zeros_like(reconstructable)
    for k in range(len(topology.particles)):
        for j in sorted({perm[k] for perm in topology.particle_permutations}):
            found[:, k] |= (particle(truth, k) == particle(assignment, j)).all(axis=1)
    return reconstructable, found & reconstructable


def particle_kinds(topology: Topology) -> dict[str, list[int]]:
    """The particles of each resonance, by its name, in the topology's order: the kinds the
    SPANet table reports an efficiency of (t tbar: top -> [0, 1]; t tbar H: also higgs -> [2])."""
    kinds: dict[str, list[int]] = {}
    for k, p in enumerate(topology.particles):
        kinds.setdefault(p.resonance, []).append(k)
    return kinds


def fraction(passed: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, float, float]:
    """(fraction, lower, upper): the central 68.3 % Clopper-Pearson interval (hist.intervals),
    exact for small counts and never empty at 0 or 100 %; with weights, on Kish's effective
    count. NaN for an empty set."""
    from hist.intervals import clopper_pearson_interval

    n = len(passed)
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    if weights is None:
        p, total = float(np.mean(passed)), float(n)
    else:
        p, total = float(weights[passed].sum() / weights.sum()), effective_count(weights)
    low, high = clopper_pearson_interval(np.array(p * total), np.array(total))
    return p, float(low), float(high)


def effective_count(weight: np.ndarray) -> float:
    """Kish's effective number of entries, (sum w)^2 / sum w^2: what unequal weights (e.g.
    cross-section weights across pTHat bins) leave of the statistics."""
    return float(weight.sum() ** 2 / (weight**2).sum()) if len(weight) else 0.0


def in_bin(n_jets: np.ndarray, low: int, high: int | None) -> np.ndarray:
    return (n_jets >= low) & (n_jets <= (high if high is not None else np.iinfo(np.int64).max))


def bin_label(low: int, high: int | None) -> str:
    return f">= {low}" if high is None else (str(low) if low == high else f"{low}-{high}")


def correct_by_njets(events: Events) -> dict:
    """Correct-assignment fraction on matched events, inclusive and per N_jets bin (`jet_bins`),
    with its 68.3 % Clopper-Pearson interval (`low`, `high`) and the interval's half-width as
    `error`."""
    matched = events.category == MATCHED
    subsets = {"inclusive": matched}
    subsets.update({bin_label(low, high): matched & in_bin(events.n_jets, low, high)
                    for low, high in jet_bins(events.topology)})
    return correct_in(events, subsets)


def correct_by_nbtags(events: Events, n_btags: np.ndarray) -> dict:
    """Correct-assignment fraction on matched events per number of b-tagged jets: 0, 1, ... up to
    one tag per b quark of the topology and above (t tbar: 0, 1, >= 2; t tbar H: 0-3, >= 4), bins
    without a matched event left out. It shows how a method copes with b quarks whose jet is not
    tagged, which a selection asking fewer tags than b quarks (t tbar H: 2 of 4) keeps."""
    matched = events.category == MATCHED
    n_b = len(events.topology.b_slots)
    bins = [(k, k) for k in range(n_b)] + [(n_b, None)]
    subsets = {bin_label(low, high): matched & in_bin(n_btags, low, high) for low, high in bins}
    return correct_in(events, {key: chosen for key, chosen in subsets.items() if chosen.any()})


def correct_in(events: Events, subsets: dict[str, np.ndarray]) -> dict:
    """Correct-assignment fraction of each subset of `events` (name -> event mask), with its 68.3 %
    Clopper-Pearson interval (`low`, `high`), the interval's half-width as `error`, and its
    number of events."""
    correct_events = events.correct  # a property that compares every event: once, not per subset
    out = {}
    for key, chosen in subsets.items():
        f, low, high = fraction(correct_events[chosen])
        out[key] = {"fraction": f, "error": (high - low) / 2, "low": low, "high": high, "events": int(chosen.sum())}
    return out


def spanet_table(events: Events) -> list[dict]:
    """The SPANet talk's tables on the signal sample: per N_jets row (`table_bins`), for all events
    (at least one reconstructable particle) and for complete events (every particle): the event
    fraction (of all signal events, as the talk's 0.848 and 0.325), the event efficiency (every
    reconstructable particle found) and per particle kind its efficiency (found / reconstructable:
    `top_efficiency`, and for t tbar H `higgs_efficiency`). Each particle is scored on its own,
    as the official evaluator does: a particle found in an assignment that fails the event-level
    validity check still counts (its slots are filled only where its jets' classes are)."""
    topology = events.topology
    signal = events.select(events.category != BACKGROUND)
    reconstructable, found = particles_correct(signal.assignment, signal.truth, topology)
    usable = reconstructable.any(axis=1)
    complete = reconstructable.all(axis=1)
    every_particle = (found == reconstructable).all(axis=1)
    kinds = particle_kinds(topology)
    every_multiplicity = (len(topology.slots), None)
    rows = []
    for low, high in table_bins(topology):
        in_row = in_bin(signal.n_jets, low, high)
        row = {"n_jets": bin_label(low, high) if (low, high) != every_multiplicity else "all"}
        for name, subset in (("all_events", usable), ("complete_events", complete)):
            chosen = in_row & subset
            row[name] = {
                "event_fraction": float(chosen.sum() / max(len(signal), 1)),
                "event_efficiency": fraction(every_particle[chosen])[0],
                **{f"{kind}_efficiency": float(found[chosen][:, k].sum() / max(reconstructable[chosen][:, k].sum(), 1))
                   for kind, k in kinds.items()},
                "events": int(chosen.sum()),
            }
        rows.append(row)
    return rows


def performance_curve(events: Events, points: int = 200) -> dict:
    """The paper's Fig. 5 by scanning the score threshold (accept score <= t and a valid
    assignment): on matched events the fraction of correct and of wrong assignments, and the
    rejection of unmatched signal and of background (cross-section weighted)."""
    accepted_scores = events.score[events.valid & np.isfinite(events.score)]
    if len(accepted_scores) == 0:
        thresholds = np.array([np.inf])
    else:
        thresholds = np.unique(np.quantile(accepted_scores, np.linspace(0, 1, points), method="lower"))
        thresholds = np.append(thresholds, np.inf)
    out = {"threshold": thresholds.tolist(), "correct": [], "wrong": [], "unmatched_rejection": [],
           "background_rejection": []}
    matched = events.category == MATCHED
    n_matched = max(int(matched.sum()), 1)
    is_correct = events.correct
    rejected = {name: (events.category == category, events.weight_pb[events.category == category])
                for name, category in (("unmatched_rejection", UNMATCHED), ("background_rejection", BACKGROUND))}
    for t in thresholds:
        accepted = events.valid & (events.score <= t)
        out["correct"].append(float((accepted & matched & is_correct).sum() / n_matched))
        out["wrong"].append(float((accepted & matched & ~is_correct).sum() / n_matched))
        for name, (chosen, weights) in rejected.items():
            total = weights.sum()
            out[name].append(float(1 - weights[accepted[chosen]].sum() / total) if total > 0 else float("nan"))
    return out


def valid_vs_threshold(events: Events, thresholds: np.ndarray) -> dict:
    """Fraction of events with a valid assignment and a score <= threshold, per category (Fig. 6)."""
    out = {"threshold": thresholds.tolist()}
    for index, name in enumerate(CATEGORIES):
        chosen = events.category == index
        weights = events.weight_pb[chosen]
        total = weights.sum()
        out[name] = [float(weights[(events.valid & (events.score <= t))[chosen]].sum() / total) if total > 0
                     else float("nan") for t in thresholds]
    return out


def jet_labels_from_slots(slots: np.ndarray, n_jets: np.ndarray, width: int, topology: Topology) -> np.ndarray:
    """(events, width) jet classes of the topology implied by slot assignments; padding -1."""
    labels = np.where(np.arange(width)[None, :] < n_jets[:, None], topology.other_class, -1)
    rows = np.arange(len(slots))
    for slot, label in enumerate(topology.slot_classes):
        jet = slots[:, slot]
        has = (jet >= 0) & (jet < width)
        labels[rows[has], jet[has]] = label
    return labels


def confusion_matrix(events: Events) -> np.ndarray:
    """Jet-level confusion (truth rows, predicted columns, rows normalised) on matched events of a
    network: the predicted class is the most probable one, with the particle labels of the
    event's prediction relabelled (the topology's class permutations: t <-> tbar) when that
    agrees better with the truth (the loss's freedom; relabellings that agree equally well share
    the event equally)."""
    topology = events.topology
    matched = events.select(events.category == MATCHED)
    probabilities = matched.probabilities
    counts = ak.to_numpy(ak.num(probabilities, axis=1))
    width = int(counts.max()) if len(counts) else 0
    predicted = np.full((len(matched), width), -1)
    flat = ak.to_numpy(ak.argmax(ak.flatten(probabilities, axis=1), axis=-1))
    predicted[np.arange(width)[None, :] < counts[:, None]] = flat
    truth = jet_labels_from_slots(matched.truth, counts, width, topology)
    relabelled = [np.where(predicted >= 0, np.array(image)[np.clip(predicted, 0, None)], -1)
                  for image in topology.class_permutations]  # the identity first
    agree = np.stack([((labels == truth) & (truth >= 0)).sum(axis=1) for labels in relabelled])
    best = agree == agree.max(axis=0)
    share = best / best.sum(axis=0)  # (relabellings, events): ties count equally in each best relabelling
    real = truth >= 0
    matrix = np.zeros((len(topology.classes), len(topology.classes)))
    for labels, weight in zip(relabelled, share, strict=True):
        np.add.at(matrix, (truth[real], labels[real]), np.broadcast_to(weight[:, None], truth.shape)[real])
    return matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1e-12)


def score_groups(events: Events) -> dict[str, np.ndarray]:
    """Scores of correct and wrong matched events, unmatched signal and background (Fig. 11)."""
    matched = events.category == MATCHED
    return {"correct": events.score[matched & events.correct], "wrong": events.score[matched & ~events.correct],
            "unmatched": events.score[events.category == UNMATCHED],
            "background": events.score[events.category == BACKGROUND]}
