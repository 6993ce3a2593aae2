"""Distinct jet-parton assignments of the leading N jets.

An assignment fills the topology's slots (b1, q1_1, q2_1, b2, q1_2, q2_2) with different jets.
Physics does not change under the topology's symmetries (q1 <-> q2 within a W, swapping the two
tops), so one table row stands for `TOPOLOGY.multiplicity` = 2 x 2 x 2 = 8 labelled assignments:
N! / ((N - 6)! 8) rows, 90 for N = 6, 630 for N = 7 (the count of the SPA-NET talk). Rows are
their own canonical form (analysis.assignments.canonical): q1 < q2 in each W, and the first
top's (b, q1, q2) sorts before the second's.
"""
from __future__ import annotations

import itertools
import math
from functools import cache

import numpy as np

from analysis.assignments import canonical
from analysis.topology import TOPOLOGY

N_SLOTS = len(TOPOLOGY.slots)


@cache
def table(n_jets: int) -> np.ndarray:
    """(rows, slots) int64 jet indices in slot order."""
    if n_jets < N_SLOTS:
        raise ValueError(f"an assignment needs {N_SLOTS} jets, not {n_jets}")
    every = np.array(list(itertools.permutations(range(n_jets), N_SLOTS)), dtype=np.int64)
    return every[(canonical(every) == every).all(axis=1)]


def count(n_jets: int) -> int:
    return math.perm(n_jets, N_SLOTS) // TOPOLOGY.multiplicity


def btag_allowed(rows: np.ndarray, tagged: np.ndarray) -> np.ndarray:
    """(events, rows): the rows a b-tag-aware baseline tries. Tagged jets fill the b slots first:
    with two or more tagged jets among the leading N both b slots hold tagged jets, with one it
    holds a b slot, with none every row is tried. Counts for the leading 6 jets: 6 rows with two
    tagged jets, 18 with three, 30 with one, 90 with none."""
    b_tagged = sum(tagged[:, rows[:, slot]].astype(int) for slot in TOPOLOGY.b_slots)
    return b_tagged >= np.minimum(tagged.sum(axis=1), len(TOPOLOGY.b_slots))[:, None]
