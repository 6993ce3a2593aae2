"""Parametric CMS-like detector response, applied to visible final-state particles.

Particles become particle-flow-like candidates (charged hadron, neutral hadron, photon,
electron, muon) according to the sub-detector that sees them; each candidate's energy is
smeared with the resolution of that sub-detector (Delphes CMS card formulas, see
config/README.md); candidates below the detection thresholds are dropped. Jets clustered from
these candidates therefore get a pT- and eta-dependent jet energy resolution, and their
shapes are computed from what a detector would see.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.core.kinematics import pt_eta_phi_mass
from analysis.events.particles import FinalState

CHARGED_HADRON, NEUTRAL_HADRON, PHOTON, ELECTRON, MUON = range(5)
CANDIDATE_TYPES = ("charged_hadron", "neutral_hadron", "photon", "electron", "muon")
TYPE_PID = np.array([211, 130, 22, 11, 13], dtype=np.int32)
"""PDG id written for a candidate of each type (charged ones signed by charge, as Delphes does)."""


@dataclass(frozen=True)
class ResolutionRegion:
    """sigma(E)/E = sqrt(constant^2 + stochastic^2/E + noise^2/E^2 + (pt_slope * pT)^2) for |eta| < eta_max."""

    eta_max: float
    constant: float = 0.0
    stochastic: float = 0.0
    noise: float = 0.0
    pt_slope: float = 0.0


@dataclass(frozen=True)
class SubDetector:
    threshold: float
    """Minimum pT (tracks) or energy (calorimeters), GeV, after smearing."""
    regions: tuple[ResolutionRegion, ...]
    threshold_on: str = "energy"

    def relative_resolution(self, pt: np.ndarray, eta: np.ndarray, energy: np.ndarray) -> np.ndarray:
        edges = np.array([r.eta_max for r in self.regions])
        region = np.minimum(np.searchsorted(edges, np.abs(eta), side="right"), len(edges) - 1)
        pars = {
            name: np.array([getattr(r, name) for r in self.regions])[region]
            for name in ("constant", "stochastic", "noise", "pt_slope")
        }
        safe_e = np.maximum(energy, 1e-9)
        return np.sqrt(
            pars["constant"] ** 2
            + pars["stochastic"] ** 2 / safe_e
            + (pars["noise"] / safe_e) ** 2
            + (pars["pt_slope"] * pt) ** 2
        )


@dataclass(frozen=True)
class DetectorResponse:
    tracker_eta_max: float
    muon_eta_max: float
    calorimeter_eta_max: float
    track: SubDetector
    ecal: SubDetector
    hcal: SubDetector

    @classmethod
    def from_config(cls, cfg: dict) -> DetectorResponse:
        def sub(name: str, threshold_on: str) -> SubDetector:
            block = cfg["resolution"][name]
            regions = tuple(ResolutionRegion(**r) for r in sorted(block["regions"], key=lambda r: r["eta_max"]))
            return SubDetector(threshold=block["threshold"], regions=regions, threshold_on=threshold_on)

        return cls(
            tracker_eta_max=cfg["tracker_eta_max"],
            muon_eta_max=cfg["muon_eta_max"],
            calorimeter_eta_max=cfg["calorimeter_eta_max"],
            track=sub("track", "pt"),
            ecal=sub("ecal", "energy"),
            hcal=sub("hcal", "energy"),
        )


@dataclass
class Candidates:
    """Reconstructed particle-flow-like candidates (flat, with per-event counts)."""

    counts: np.ndarray
    kind: np.ndarray
    charge: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray

    def pt_eta_phi(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pt, eta, phi, _ = pt_eta_phi_mass(self.px, self.py, self.pz, self.e)
        return pt, eta, phi

    @property
    def pid(self) -> np.ndarray:
        sign = np.where(self.kind == CHARGED_HADRON, np.sign(self.charge), -np.sign(self.charge))
        return np.where(self.charge != 0, sign, 1).astype(np.int32) * TYPE_PID[self.kind]


def reconstruct(particles: FinalState, response: DetectorResponse, rng: np.random.Generator) -> Candidates:
    """Classify, smear and threshold the visible particles of a batch."""
    pt, eta = particles.pt, particles.eta
    abs_eta = np.abs(eta)
    abs_pid = np.abs(particles.pid)
    charged = particles.charge != 0
    in_tracker = abs_eta < response.tracker_eta_max

    kind = np.full(len(pt), NEUTRAL_HADRON, dtype=np.int8)
    kind[charged & in_tracker] = CHARGED_HADRON
    kind[(abs_pid == 22) | ((abs_pid == 11) & ~in_tracker)] = PHOTON
    kind[(abs_pid == 11) & in_tracker] = ELECTRON
    kind[abs_pid == 13] = MUON
    seen = (abs_pid != 13) | (abs_eta < response.muon_eta_max)

    tracked = np.isin(kind, (CHARGED_HADRON, ELECTRON, MUON))
    ecal = kind == PHOTON
    sigma = np.empty(len(pt))
    for chosen, detector in ((tracked, response.track), (ecal, response.ecal), (~tracked & ~ecal, response.hcal)):
        sigma[chosen] = detector.relative_resolution(pt[chosen], eta[chosen], particles.e[chosen])
    scale = lognormal_unit_mean(sigma, rng)
    e = particles.e * scale
    smeared_pt = pt * scale
    above = np.where(
        tracked,
        smeared_pt > response.track.threshold,
        np.where(ecal, e > response.ecal.threshold, e > response.hcal.threshold),
    )
    keep = seen & above
    event = np.repeat(np.arange(len(particles.counts)), particles.counts)
    return Candidates(
        counts=np.bincount(event[keep], minlength=len(particles.counts)).astype(np.int64),
        kind=kind[keep],
        charge=np.where(tracked, particles.charge, 0.0)[keep].astype(np.float32),
        px=particles.px[keep] * scale[keep],
        py=particles.py[keep] * scale[keep],
        pz=particles.pz[keep] * scale[keep],
        e=e[keep],
    )


def lognormal_unit_mean(sigma: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Multiplicative response with mean exactly 1 and standard deviation `sigma`: unlike a
    truncated Gaussian it never goes negative and never biases the mean response."""
    s2 = np.log1p(np.square(sigma))
    return np.exp(-0.5 * s2 + np.sqrt(s2) * rng.standard_normal(len(sigma)))


@dataclass(frozen=True)
class TagEfficiency:
    """eff(pT) = offset + linear * pT + norm * tanh(slope * pT) / (1 + decay * pT), clipped to [0, 1]:
    the functional family of the Delphes CMS card's b-tagging formulas."""

    offset: float = 0.0
    linear: float = 0.0
    norm: float = 0.0
    slope: float = 0.0
    decay: float = 0.0

    def __call__(self, pt: np.ndarray) -> np.ndarray:
        value = self.offset + self.linear * pt + self.norm * np.tanh(self.slope * pt) / (1.0 + self.decay * pt)
        return np.clip(value, 0.0, 1.0)


def btag(flavour: np.ndarray, pt: np.ndarray, efficiencies: dict[str, TagEfficiency],
         rng: np.random.Generator) -> np.ndarray:
    """Tag each jet with the efficiency of its flavour (5: b, 4: c, anything else: light)."""
    abs_flavour = np.abs(flavour)
    eff = np.where(
        abs_flavour == 5,
        efficiencies["b"](pt),
        np.where(abs_flavour == 4, efficiencies["c"](pt), efficiencies["light"](pt)),
    )
    return (rng.random(len(pt)) < eff).astype(np.int32)
