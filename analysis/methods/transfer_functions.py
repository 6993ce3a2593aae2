"""Jet energy transfer functions for the kinematic likelihood: W(E_jet | E_parton).

The response x = (E_jet - E_parton) / E_parton follows a Crystal Ball (a Gaussian core with a
power-law low tail, where jets lose energy out of the cone or to neutrinos). Its parameters
depend on the parton energy and are fitted separately for b and light jets, in the barrel
(abs(eta) < 1.3) and the endcap, on the jet-parton pairs of matched training events:
Crystal Ball fits (iminuit, unbinned) in bins of parton energy, then smooth functions of E:

    mean(E) = m0 + m1 / E,   sigma(E) = sqrt(s0^2 + s1^2 / E + s2^2 / E^2),   alpha, n: bin average.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from iminuit import Minuit
from scipy.optimize import least_squares
from scipy.special import erf

BARREL_ETA = 1.3
CATEGORIES = ("b_barrel", "b_endcap", "light_barrel", "light_endcap")
MIN_PAIRS_PER_BIN = 200


def crystal_ball_logpdf(x: np.ndarray, mean, sigma, alpha, n) -> np.ndarray:
    """log of the normalised Crystal Ball density (low-side tail); numpy or torch broadcasting."""
    lib = _lib(x)
    t = (x - mean) / sigma
    a = abs(alpha) if not hasattr(alpha, "abs") else alpha.abs()
    log_norm = -lib.log(sigma * (n / a / (n - 1) * lib.exp(-0.5 * a**2)
                                 + np.sqrt(np.pi / 2) * (1 + _erf(a / np.sqrt(2), lib))))
    tail = n * lib.log(n / a) - 0.5 * a**2 - n * lib.log(lib.clamp(n / a - a - t, min=1e-12)
                                                         if lib is not np else np.maximum(n / a - a - t, 1e-12))
    core = -0.5 * t**2
    return log_norm + lib.where(t > -a, core, tail)


def _lib(x):
    if isinstance(x, np.ndarray | float | int):
        return np
    import torch

    return torch


def _erf(v, lib):
    return erf(v) if lib is np else lib.special.erf(v)


@dataclass(frozen=True)
class ResponseModel:
    """Smooth Crystal Ball parameters of one category as functions of the parton energy."""

    m0: float
    m1: float
    s0: float
    s1: float
    s2: float
    alpha: float
    n: float

    def parameters(self, energy):
        lib = _lib(energy)
        mean = self.m0 + self.m1 / energy
        sigma = lib.sqrt(self.s0**2 + self.s1**2 / energy + self.s2**2 / energy**2)
        return mean, sigma, self.alpha, self.n


FIT_WINDOW = (-1.0, 1.0)
"""Responses fitted, with the density normalised on this window (a jet cannot lose more than all
of its parton's energy)."""
_GRID = np.linspace(*FIT_WINDOW, 4001)


def fit_crystal_ball(x: np.ndarray) -> dict:
    """Unbinned maximum-likelihood Crystal Ball fit (iminuit) on FIT_WINDOW."""
    x = x[(x > FIT_WINDOW[0]) & (x < FIT_WINDOW[1])]
    median = float(np.median(x))
    spread = float(1.4826 * np.median(np.abs(x - median)))

    def nll(mean, sigma, alpha, n):
        inside = np.trapezoid(np.exp(crystal_ball_logpdf(_GRID, mean, sigma, alpha, n)), _GRID)
        return -np.sum(crystal_ball_logpdf(x, mean, sigma, alpha, n)) + len(x) * np.log(inside)

    m = Minuit(nll, mean=median, sigma=spread, alpha=1.5, n=5.0)
    m.errordef = Minuit.LIKELIHOOD
    m.limits["sigma"] = (1e-3, 1.0)
    m.limits["alpha"] = (0.2, 5.0)
    m.limits["n"] = (1.05, 50.0)
    m.migrad()
    return {**{k: float(m.values[k]) for k in ("mean", "sigma", "alpha", "n")}, "valid": bool(m.valid),
            "entries": int(len(x))}


def fit_category(jet_energy: np.ndarray, parton_energy: np.ndarray, n_bins: int = 6) -> tuple[ResponseModel, list]:
    """Bin fits in quantiles of parton energy, then the smooth energy dependence."""
    n_bins = max(1, min(n_bins, len(parton_energy) // MIN_PAIRS_PER_BIN))
    edges = np.quantile(parton_energy, np.linspace(0, 1, n_bins + 1))
    bins = []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (parton_energy >= low) & (parton_energy <= high)
        x = (jet_energy[inside] - parton_energy[inside]) / parton_energy[inside]
        bins.append({"e_low": float(low), "e_high": float(high), "e_mean": float(parton_energy[inside].mean()),
                     **fit_crystal_ball(x)})
    energy = np.array([b["e_mean"] for b in bins])
    mean = np.array([b["mean"] for b in bins])
    sigma = np.array([b["sigma"] for b in bins])
    m1, m0 = (np.polyfit(1 / energy, mean, 1) if len(bins) > 1 else (0.0, mean[0]))

    def sigma_residual(p):
        return np.sqrt(p[0] ** 2 + p[1] ** 2 / energy + p[2] ** 2 / energy**2) - sigma

    s = least_squares(sigma_residual, x0=[sigma.min(), 1.0, 1.0]).x if len(bins) > 2 else (sigma[0], 0.0, 0.0)
    model = ResponseModel(m0=float(m0), m1=float(m1), s0=float(abs(s[0])), s1=float(abs(s[1])), s2=float(abs(s[2])),
                          alpha=float(np.mean([b["alpha"] for b in bins])), n=float(np.mean([b["n"] for b in bins])))
    return model, bins


def category(is_b: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Index into CATEGORIES."""
    return 2 * (~np.asarray(is_b, dtype=bool)).astype(int) + (np.abs(eta) >= BARREL_ETA).astype(int)


MIN_PAIRS = 100
"""A category with fewer matched jets borrows those of its flavour in the other eta region, and
then all jets (small test samples); the JSON says which were used."""


def fit_all(jet_energy: np.ndarray, parton_energy: np.ndarray, is_b: np.ndarray, eta: np.ndarray) -> dict:
    """The four categories' response models and their bin fits (JSON-ready)."""
    if len(jet_energy) < MIN_FIT_JETS:
        raise ValueError(f"only {len(jet_energy)} truth-matched jets to fit the transfer functions "
                         f"(need {MIN_FIT_JETS}); generate more events")
    out = {}
    for name, (pool, chosen) in fit_pools(is_b, eta).items():
        model, bins = fit_category(jet_energy[chosen], parton_energy[chosen])
        out[name] = {"model": asdict(model), "bins": bins, "pairs": int(chosen.sum()), "jets_from": pool}
    return out


def fit_pools(is_b: np.ndarray, eta: np.ndarray) -> dict[str, tuple[str, np.ndarray]]:
    """Per category, the jets its fit uses: ("own", its jets) when it has MIN_PAIRS, else
    ("flavour", its flavour's jets in both eta regions), else ("all", every jet)."""
    is_b = np.asarray(is_b, dtype=bool)
    cats = category(is_b, eta)
    out = {}
    for index, name in enumerate(CATEGORIES):
        pools = (("own", cats == index), ("flavour", is_b == (index < 2)), ("all", np.ones(len(cats), bool)))
        out[name] = next((p, c) for p, c in pools if c.sum() >= MIN_PAIRS or p == "all")
    return out


MIN_FIT_JETS = 20


def models_from(fitted: dict) -> list[ResponseModel]:
    return [ResponseModel(**fitted[name]["model"]) for name in CATEGORIES]
