"""What every baseline module's `ADAPTER` provides (analysis.methods.REGISTRY names the module):
the baseline stage calls only this, so a new permutation method needs no stage code of its own."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from analysis.config import Config

KINEMATICS = ("pt", "eta", "phi", "mass", "btag")
"""The raw jet columns (padded, leading first) an assigner reads."""

Assigner = Callable[[dict[str, np.ndarray], np.ndarray], tuple[np.ndarray, np.ndarray]]
"""(jet columns of KINEMATICS, real jets per event) -> (slots (events, 6), score (events,));
events without an assignment get -1 slots and an infinite score."""


class BaselineAdapter(Protocol):
    chunk: int
    """Events per call of the assigner (bounds the memory of the permutation tensors)."""

    def assigner(self, cfg: Config, calibration: dict, n_jets: int, btag_aware: bool) -> tuple[Assigner, dict]:
        """The assignment function over the leading `n_jets` jets (tagged jets first in the b slots
        with `btag_aware`), given the baseline's calibration file (fitted on training events), and
        its settings for the provenance."""
