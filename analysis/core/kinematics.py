"""Small vectorised kinematics helpers on flat numpy arrays (units GeV, Delphes conventions)."""
from __future__ import annotations

import numpy as np

ZERO_PT_ETA = 999.9
"""Delphes' pseudorapidity for a particle along the beam (pT = 0)."""


def pt_eta_phi_mass(px, py, pz, e) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    px, py, pz, e = (np.asarray(a, dtype=np.float64) for a in (px, py, pz, e))
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(pt > 0, np.arcsinh(np.divide(pz, pt, where=pt > 0, out=np.zeros_like(pt))),
                       np.sign(pz) * ZERO_PT_ETA)
    phi = np.arctan2(py, px)
    mass = np.sqrt(np.maximum(e * e - px * px - py * py - pz * pz, 0.0))
    return pt, eta, phi, mass


def wrap_phi(dphi):
    """Delta phi wrapped to [-pi, pi), for numpy and awkward (jagged) arrays alike."""
    return dphi - 2 * np.pi * np.floor((dphi + np.pi) / (2 * np.pi))  # floor: ~8x faster than %
