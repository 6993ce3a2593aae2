"""Distinct jet-parton assignments of the leading N jets.

An assignment fills the slots (b1, q1_1, q2_1, b2, q1_2, q2_2) with six different jets. Physics
does not change under q1 <-> q2 within a W nor under swapping the two tops, so one table row
stands for 2 x 2 x 2 = 8 labelled assignments: N! / ((N - 6)! 8) rows, 90 for N = 6, 630 for
N = 7 (the count of the SPA-NET talk). Rows are canonical: q1 < q2 in each W, and the first
top's (b, q1, q2) sorts before the second's.
"""
from __future__ import annotations

import itertools
from functools import cache

import numpy as np


@cache
def table(n_jets: int) -> np.ndarray:
    """(rows, 6) int64 jet indices in slot order."""
    if n_jets < 6:
        raise ValueError(f"an assignment needs 6 jets, not {n_jets}")
    rows = [p for p in itertools.permutations(range(n_jets), 6)
            if p[1] < p[2] and p[4] < p[5] and p[:3] < p[3:]]
    return np.array(rows, dtype=np.int64)


def count(n_jets: int) -> int:
    return int(np.prod(np.arange(n_jets - 5, n_jets + 1))) // 8


def btag_allowed(rows: np.ndarray, tagged: np.ndarray) -> np.ndarray:
    """(events, rows): the rows a b-tag-aware baseline tries. Tagged jets fill the b slots first:
    with two or more tagged jets among the leading N both b slots hold tagged jets, with one it
    holds a b slot, with none every row is tried. Counts for the leading 6 jets: 6 rows with two
    tagged jets, 18 with three, 30 with one, 90 with none."""
    b_tagged = tagged[:, rows[:, 0]].astype(int) + tagged[:, rows[:, 3]]
    return b_tagged >= np.minimum(tagged.sum(axis=1), 2)[:, None]
