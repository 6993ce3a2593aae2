"""What a network sees of the jets: per-jet features and pairwise features, computed inside the
model from the raw jet columns of the datasets, and normalised with ranges fitted on the
training set and stored with the weights.

Keeping this in the model (rather than in the datasets' SCALING group) means a trained model
takes raw jets (pT in GeV, eta, phi, mass, b-tag, shapes) wherever it goes, the ONNX graph
included, and each model chooses its own inputs:

- `scaling: minmax` is the SAJA paper's: every feature but the b-tag mapped to [0, 1] with the
  training set's range (sec. 3.1). pT is then squashed near 0 by its tail and phi is treated as
  a line although it is an angle.
- `scaling: standard` shifts and scales every feature but the b-tag to zero mean and unit width
  on the training set, meant for the logarithmic features below (SPANet's `log_normalize`).

Derived per-jet features (analysis.config.features.DERIVED): `log_pt`, `log_energy`, `log_mass`
(log(1 + m / GeV): jet masses reach 0), and phi as an angle relative to the leading jet,
`cos_dphi` and `sin_dphi`,
which makes the inputs blind to a common rotation in phi (the leading jet is found, not assumed
to come first, so the inputs stay equivariant under any order of the jets).

Pairwise features (PAIRWISE), for every pair of jets i != j: `log_mass` (log m_ij of the two
massive jets), `log_delta_r`, `log_kt` (log min(pT_i, pT_j) Delta R_ij) and `z`
(min(pT_i, pT_j) / (pT_i + pT_j)), as in the particle transformer (analysis/qg/tagger.py). All four
are invariant under a common phi rotation and eta reflection of the jets. They cost N^2 per
event and no permutation loop.

`augment: true` mirrors eta (and independently phi) of whole events at random while training: the
detector and the physics are symmetric under both, the network should be too.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from analysis.config.features import FOUR_MOMENTUM, PAIRWISE, SCALINGS, UNSCALED, input_columns

FLOOR = 1e-3
"""Floor of every logarithm's argument (GeV or Delta R), so padded jets stay finite."""

def _log(x: torch.Tensor) -> torch.Tensor:
    return torch.log(x.clamp(min=FLOOR))


def wrap_angle(dphi: torch.Tensor) -> torch.Tensor:
    return torch.remainder(dphi + math.pi, 2 * math.pi) - math.pi


def cosh_sinh(eta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cosh and sinh written with exp: the ONNX exporter has no aten::cosh or aten::sinh."""
    up, down = torch.exp(eta), torch.exp(-eta)
    return (up + down) / 2, (up - down) / 2


def pair_mass_squared(pt: torch.Tensor, eta: torch.Tensor, phi: torch.Tensor, mass: torch.Tensor) -> torch.Tensor:
    """m_ij^2 (events, jets, jets) of every pair of massive jets, m_i^2 + m_j^2 + 2 (E_i E_j - p_i . p_j);
    4 m_i^2 on the diagonal. Jets are at least a cone radius apart, so the difference loses
    nothing in float32 that matters here."""
    cosh, sinh = cosh_sinh(eta)
    energy = torch.sqrt(mass ** 2 + (pt * cosh) ** 2)
    momentum = torch.stack([pt * torch.cos(phi), pt * torch.sin(phi), pt * sinh], dim=-1)
    dot = energy[:, :, None] * energy[:, None, :] - momentum @ momentum.transpose(1, 2)
    m2 = mass[:, :, None] ** 2 + mass[:, None, :] ** 2 + 2 * dot
    return m2.clamp(min=0)


class JetInputs(nn.Module):
    """Raw jet columns (events, jets, columns) -> normalised per-jet features (events, jets,
    features) and normalised pairwise features (events, jets, jets, pairwise); zero where padded.

    The normalisation (`offset`, `scale`) is a buffer: `fit` sets it from the training set, the
    checkpoint and the ONNX graph carry it."""

    def __init__(self, features: Sequence[str], scaling: str = "minmax", pairwise: Sequence[str] = (),
                 augment: bool = False, four_momentum: bool = False):
        super().__init__()
        if scaling not in SCALINGS:
            raise ValueError(f"scaling {scaling!r}: one of {SCALINGS}")
        unknown = [p for p in pairwise if p not in PAIRWISE]
        if unknown:
            raise ValueError(f"pairwise features {unknown}: known {PAIRWISE}")
        self.features, self.scaling, self.pairwise, self.augment = tuple(features), scaling, tuple(pairwise), augment
        self.columns = input_columns(self.features, self.pairwise, four_momentum)
        self.register_buffer("offset", torch.zeros(len(self.features)))
        self.register_buffer("scale", torch.ones(len(self.features)))
        self.register_buffer("pair_offset", torch.zeros(len(self.pairwise)))
        self.register_buffer("pair_scale", torch.ones(len(self.pairwise)))
        self.register_buffer("shifted", torch.tensor([f not in UNSCALED for f in self.features]))

    def _column(self, raw: torch.Tensor, name: str) -> torch.Tensor:
        return raw[..., self.columns.index(name)]

    def _mirrored(self, raw: torch.Tensor) -> torch.Tensor:
        """raw with eta and phi of random whole events negated (training augmentation)."""
        flips = torch.ones(len(self.columns), device=raw.device).repeat(len(raw), 1)
        for name in ("eta", "phi"):
            if name in self.columns:
                sign = torch.randint(0, 2, (len(raw),), device=raw.device) * 2 - 1
                flips[:, self.columns.index(name)] = sign.to(flips.dtype)
        return raw * flips[:, None, :]

    def jet_features(self, raw: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(events, jets, features), not yet normalised."""
        columns = []
        for name in self.features:
            if name == "log_pt":
                columns.append(_log(self._column(raw, "pt")))
            elif name == "log_energy":
                pt, eta, mass = (self._column(raw, c) for c in ("pt", "eta", "mass"))
                columns.append(_log(torch.sqrt((pt * cosh_sinh(eta)[0]) ** 2 + mass ** 2)))
            elif name == "log_mass":
                columns.append(torch.log1p(self._column(raw, "mass").clamp(min=0)))
            elif name in ("cos_dphi", "sin_dphi"):
                phi, pt = self._column(raw, "phi"), self._column(raw, "pt")
                leading = pt.masked_fill(~mask, float("-inf")).argmax(dim=1, keepdim=True)
                dphi = phi - phi.gather(1, leading)
                columns.append(torch.cos(dphi) if name == "cos_dphi" else torch.sin(dphi))
            else:
                columns.append(self._column(raw, name))
        return torch.stack(columns, dim=-1)

    def pair_features(self, raw: torch.Tensor) -> torch.Tensor:
        """(events, jets, jets, pairwise), not yet normalised."""
        pt, eta, phi, mass = (self._column(raw, c) for c in FOUR_MOMENTUM)
        delta_r = torch.sqrt((eta[:, :, None] - eta[:, None, :]) ** 2
                             + wrap_angle(phi[:, :, None] - phi[:, None, :]) ** 2)
        pt_min = torch.minimum(pt[:, :, None], pt[:, None, :])
        values = {
            "log_mass": lambda: 0.5 * _log(pair_mass_squared(pt, eta, phi, mass)),
            "log_delta_r": lambda: _log(delta_r),
            "log_kt": lambda: _log(pt_min * delta_r),
            "z": lambda: pt_min / (pt[:, :, None] + pt[:, None, :]).clamp(min=FLOOR),
        }
        return torch.stack([values[name]() for name in self.pairwise], dim=-1)

    @staticmethod
    def pair_mask(mask: torch.Tensor) -> torch.Tensor:
        """Pairs of two distinct real jets (events, jets, jets)."""
        index = torch.arange(mask.shape[1], device=mask.device)  # not torch.eye: ONNX Runtime lacks a boolean EyeLike
        return mask[:, :, None] & mask[:, None, :] & (index[:, None] != index[None, :])

    @torch.no_grad()
    def fit(self, raw: torch.Tensor, mask: torch.Tensor) -> None:
        """Set the normalisation from the real jets (and real pairs) of a training set."""
        real = self.jet_features(raw, mask)[mask]
        if self.scaling == "minmax":
            low, high = real.min(dim=0).values, real.max(dim=0).values
            offset, scale = low, torch.where(high > low, high - low, torch.ones_like(high))
        else:
            offset, scale = real.mean(dim=0), real.std(dim=0).clamp(min=1e-6)
        self.offset.copy_(torch.where(self.shifted, offset, torch.zeros_like(offset)))
        self.scale.copy_(torch.where(self.shifted, scale, torch.ones_like(scale)))
        if self.pairwise:
            pairs = torch.cat([self.pair_features(raw[i:i + 1000])[self.pair_mask(mask[i:i + 1000])]
                               for i in range(0, len(raw), 1000)])
            self.pair_offset.copy_(pairs.mean(dim=0))
            self.pair_scale.copy_(pairs.std(dim=0).clamp(min=1e-6))

    def forward(self, raw: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        raw = torch.where(mask[..., None], raw, torch.zeros_like(raw))
        if self.augment and self.training:
            raw = self._mirrored(raw)
        x = (self.jet_features(raw, mask) - self.offset) / self.scale * mask[..., None]
        if not self.pairwise:
            return x, None
        pairs = (self.pair_features(raw) - self.pair_offset) / self.pair_scale
        return x, pairs * self.pair_mask(mask)[..., None]
