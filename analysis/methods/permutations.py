"""Distinct jet-parton assignments of the leading N jets.

An assignment fills the topology's slots (b1, q1_1, q2_1, b2, q1_2, q2_2 for t tbar) with
different jets. Physics does not change under the topology's symmetries (q1 <-> q2 within a W,
swapping the two tops, the two b quarks of a Higgs), so one table row stands for
`Topology.multiplicity` labelled assignments: for t tbar 2 x 2 x 2 = 8, so N! / ((N - 6)! 8) rows,
90 for N = 6, 630 for N = 7 (the count of the SPA-NET talk); for t tbar H 16, so
N! / ((N - 8)! 16) rows, 2520 for N = 8. Rows are their own canonical form
(analysis.assignments.canonical): the quarks of each interchangeable pair in increasing jet
order, and the first top's (b, q1, q2) sorting before the second's.
"""
from __future__ import annotations

import itertools
import math
from functools import cache

import numpy as np

from analysis.assignments import canonical
from analysis.topology import TOPOLOGY, Topology


@cache
def table(n_jets: int, topology: Topology = TOPOLOGY) -> np.ndarray:
    """(rows, slots) int64 jet indices in slot order."""
    n_slots = len(topology.slots)
    if n_jets < n_slots:
        raise ValueError(f"an assignment needs {n_slots} jets, not {n_jets}")
    every = np.array(list(itertools.permutations(range(n_jets), n_slots)), dtype=np.int64)
    return every[(canonical(every, topology) == every).all(axis=1)]


def count(n_jets: int, topology: Topology = TOPOLOGY) -> int:
    return math.perm(n_jets, len(topology.slots)) // topology.multiplicity


def btag_allowed(rows: np.ndarray, tagged: np.ndarray, topology: Topology = TOPOLOGY) -> np.ndarray:
    """(events, rows): the rows a b-tag-aware baseline tries. Tagged jets fill the b slots first:
    with as many tagged jets as b slots or more, every b slot holds a tagged jet; with fewer,
    every tagged jet holds a b slot; with none every row is tried. Counts for t tbar and the
    leading 6 jets: 6 rows with two tagged jets, 18 with three, 30 with one, 90 with none."""
    b_tagged = sum(tagged[:, rows[:, slot]].astype(int) for slot in topology.b_slots)
    return b_tagged >= np.minimum(tagged.sum(axis=1), len(topology.b_slots))[:, None]
