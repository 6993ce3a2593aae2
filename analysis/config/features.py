"""The vocabulary of the networks' inputs that a config may name (per-jet features, derived and
pairwise ones, scalings) and the stored dataset columns each needs, without torch: the config
checks a model's features against a SPANet-format dataset with it, and the networks' input layer
(analysis.methods.inputs) computes what it names."""
from __future__ import annotations

from collections.abc import Sequence

FOUR_MOMENTUM = ("pt", "eta", "phi", "mass")
UNSCALED = ("btag",)
"""Never shifted or scaled: already a bit (SAJA paper sec. 3.1)."""
DERIVED = {
    "log_pt": ("pt",),
    "log_energy": ("pt", "eta", "mass"),
    "log_mass": ("mass",),
    "cos_dphi": ("phi", "pt"),
    "sin_dphi": ("phi", "pt"),
}
"""Per-jet features computed from the stored columns -> the columns each one needs."""
PAIRWISE = ("log_mass", "log_delta_r", "log_kt", "z")
SCALINGS = ("minmax", "standard")


def input_columns(features: Sequence[str], pairwise: Sequence[str] = (), four_momentum: bool = False
                  ) -> tuple[str, ...]:
    """The stored dataset columns a model with these features reads, in a fixed order: the
    features that are stored themselves, then what the derived and pairwise features need (and
    the four-momentum when the model computes masses itself)."""
    needed = [f for f in features if f not in DERIVED]
    for feature in features:
        needed += list(DERIVED.get(feature, ()))
    if pairwise or four_momentum:
        needed += list(FOUR_MOMENTUM)
    return tuple(dict.fromkeys(needed))
