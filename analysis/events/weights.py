"""Generator weights of Delphes files, summarised without holding them in memory.

Real MadGraph/POWHEG + Pythia files carry `Event.Weight` of any scale (coffea's W + jets sample:
1.53e6 per event) and, at NLO, of either sign. The normalisation needs their sum and whether
they are all equal; check-input reports the same summary, so a user sees what the workflow will
assume before a long run.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import numpy as np

from analysis.events import delphes


@dataclass(frozen=True)
class WeightSummary:
    """Events, sum, range and number of negative weights of one or more files."""

    events: int = 0
    total: float = 0.0
    minimum: float = np.inf
    maximum: float = -np.inf
    negative: int = 0

    @property
    def kind(self) -> str:
        """unit (every weight 1), constant (every weight equal) or varying."""
        if self.events and self.minimum == self.maximum:
            return "unit" if self.minimum == 1.0 else "constant"
        return "varying"

    @property
    def negative_fraction(self) -> float:
        return self.negative / self.events if self.events else 0.0

    def __add__(self, other: WeightSummary) -> WeightSummary:
        return WeightSummary(self.events + other.events, self.total + other.total, min(self.minimum, other.minimum),
                             max(self.maximum, other.maximum), self.negative + other.negative)

    @classmethod
    def of(cls, weights: np.ndarray) -> WeightSummary:
        if len(weights) == 0:
            return cls()
        return cls(len(weights), float(weights.sum()), float(weights.min()), float(weights.max()),
                   int((weights < 0).sum()))

    def text(self) -> str:
        if not self.events:
            return "no events"
        if self.kind != "varying":
            return f"{self.kind}, {self.minimum:g} for each of {self.events} events"
        return (f"varying, {self.minimum:.4g} to {self.maximum:.4g}, sum {self.total:.6g} over {self.events} events, "
                f"{100 * self.negative_fraction:.1f} % negative")

    def as_dict(self) -> dict:
        return {"kind": self.kind, "events": self.events, "sum": self.total,
                "min": self.minimum if self.events else None, "max": self.maximum if self.events else None,
                "negative_fraction": self.negative_fraction}


def read_weights(paths: Iterable[str | Path], step_size: int = 1_000_000) -> WeightSummary:
    """The summary of `Event.Weight` over every event of `paths`, read in steps."""
    summary = WeightSummary()
    for _, arrays in delphes.iterate(paths, {"Event": ("Weight",)}, step_size=step_size):
        summary = summary + WeightSummary.of(ak.to_numpy(ak.flatten(arrays["Event"].Weight)).astype(np.float64))
    return summary
