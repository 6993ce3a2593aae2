"""Decoding per-jet class probabilities into an assignment that is always topologically valid.

The paper's decoding takes each jet's most probable class and accepts the event only when the
classes come out as exactly one b1, two W1, one b2 and two W2 jets. The always-valid decoding
instead picks the jets of the six slots jointly: jet j in a slot of class c gains
log p_j(c) - log p_j(other) over calling it "other", and the best valid assignment maximises
the summed gain with distinct jets. That is a rectangular linear assignment problem (slots
against jets) per event, exact and polynomial, so no permutation loop is needed.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from analysis.topology import TOPOLOGY


def slot_classes(n_classes: int) -> tuple[np.ndarray, int]:
    """(class of each assignment slot, the class of jets in no slot), the topology's."""
    if n_classes != len(TOPOLOGY.classes):
        raise ValueError(f"{n_classes} classes per jet, but the topology has {len(TOPOLOGY.classes)}")
    return np.array(TOPOLOGY.slot_classes), TOPOLOGY.other_class


def best_valid_assignment(log_p: np.ndarray, mask: np.ndarray, pt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(slots (events, 6), valid (events,)): the valid assignment of highest summed
    log p(class) - log p(other) per event, W jets of a top in pT order (q1 the harder). Events
    with fewer real jets than slots get -1 slots and valid False."""
    per_slot, other = slot_classes(log_p.shape[-1])
    gain = log_p[..., per_slot] - log_p[..., [other]]  # (events, jets, slots)
    slots = np.full((len(log_p), len(per_slot)), -1, dtype=np.int64)
    n_real = mask.sum(axis=1)
    valid = n_real >= len(per_slot)
    for event in np.flatnonzero(valid):
        jets = np.flatnonzero(mask[event])
        rows, cols = linear_sum_assignment(gain[event, jets].T, maximize=True)
        slots[event, rows] = jets[cols]
    for _, pair in TOPOLOGY.class_slots:
        if len(pair) == 2:
            a, b = slots[:, pair[0]], slots[:, pair[1]]
            rows = np.arange(len(slots))
            swap = valid & (pt[rows, b] > pt[rows, a])
            slots[swap, pair[0]], slots[swap, pair[1]] = b[swap], a[swap]
    return slots, valid
