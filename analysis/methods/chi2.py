"""The chi^2 baseline (seed 001, eq. 1):

    chi^2 = (m_bqq - m_t)^2 / s_t^2 + (m_b'q'q' - m_t)^2 / s_t^2 + (m_qq - m_W)^2 / s_W^2 + (m_q'q' - m_W)^2 / s_W^2

plus, for every two-body decay of the topology (t tbar H: the Higgs), (m_bb - m_H)^2 / s_H^2,
minimised over the distinct assignments of the leading N jets (analysis.methods.permutations).
Columnar: for every event the term of each (b, q, q) triplet and of each jet pair is computed
once, then each table row's chi^2 is the sum of gathered terms. With `btag_aware`, tagged jets
fill the b slots first (analysis.methods.permutations.btag_allowed).
The masses m_t, m_W, m_H are the topology's (analysis.topology); the widths s_t and s_W (and s_H)
are fitted on the matched training events (fit_widths).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import curve_fit

from analysis.core.kinematics import cascade_masses, four_vectors, invariant_mass, pair_masses
from analysis.methods.baselines import Assigner
from analysis.methods.permutations import btag_allowed, table
from analysis.topology import TOPOLOGY, Topology

TOP, W = TOPOLOGY.cascade_resonances

if TYPE_CHECKING:
    from analysis.config import Config


@dataclass(frozen=True)
class Chi2Settings:
    m_top: float = TOP.mass
    m_w: float = W.mass
    sigma_top: float = 15.0
    sigma_w: float = 10.0
    n_jets: int = 6
    btag_aware: bool = True
    sigma_pairs: tuple[float, ...] = ()
    """The mass width of each two-body decay of the topology, in its order (t tbar H: s_H)."""

    def pair_widths(self, topology: Topology) -> tuple[float, ...]:
        if len(self.sigma_pairs) != len(topology.pairs):
            raise ValueError(f"topology {topology.name!r} has {len(topology.pairs)} two-body decays "
                             f"({[p.particle for p in topology.pairs]}); the chi^2 got {len(self.sigma_pairs)} widths")
        return self.sigma_pairs


def triplet_terms(p4: np.ndarray, s: Chi2Settings) -> np.ndarray:
    """(events, N, N (N - 1) / 2): the chi^2 of one top with b = i and W -> pair p = (j < k) of
    `pair_index`. Component by component on contiguous float32 arrays, several times faster
    than on a trailing (..., 4) axis."""
    n = p4.shape[1]
    j, k = np.triu_indices(n, 1)
    px, py, pz, e = (np.ascontiguousarray(p4[..., c], dtype=np.float32) for c in range(4))
    w = [c[:, j] + c[:, k] for c in (px, py, pz, e)]  # (events, pairs)
    w_mass = np.sqrt(np.maximum(w[3] ** 2 - w[0] ** 2 - w[1] ** 2 - w[2] ** 2, 0.0))
    w_term = ((w_mass - s.m_w) / s.sigma_w) ** 2
    top = [wc[:, None, :] + c[:, :, None] for wc, c in zip(w, (px, py, pz, e), strict=True)]
    m2 = top[3] ** 2
    for c in top[:3]:
        m2 -= c**2
    top_term = ((np.sqrt(np.maximum(m2, 0.0)) - s.m_top) / s.sigma_top) ** 2
    return top_term + w_term[:, None]


def pair_index(n: int) -> np.ndarray:
    """(N, N) -> column of the pair (j < k) in triplet_terms."""
    index = np.full((n, n), -1, dtype=np.int64)
    j, k = np.triu_indices(n, 1)
    index[j, k] = np.arange(len(j))
    return index


def assignment_chi2(p4: np.ndarray, slots: np.ndarray, s: Chi2Settings, topology: Topology = TOPOLOGY) -> np.ndarray:
    """chi^2 of given slot assignments (events, slots), labelled in any order."""
    w, top = cascade_masses(p4, slots, topology.cascade_slots)
    chi2 = (((top - s.m_top) / s.sigma_top) ** 2 + ((w - s.m_w) / s.sigma_w) ** 2).sum(axis=1)
    if topology.pairs:
        masses = pair_masses(p4, slots, topology.pair_slots)
        centres = np.array([p.resonance.mass for p in topology.pairs])
        chi2 = chi2 + (((masses - centres) / np.array(s.pair_widths(topology))) ** 2).sum(axis=1)
    return chi2


def best_assignment(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, mass: np.ndarray, btag: np.ndarray,
                    n_real: np.ndarray, s: Chi2Settings, topology: Topology = TOPOLOGY) -> tuple[np.ndarray, np.ndarray]:
    """(slots (events, slots), chi^2 (events,)) over the leading `s.n_jets` jets; events with fewer
    jets than slots get -1 slots and an infinite chi^2."""
    n_slots = len(topology.slots)
    n = min(s.n_jets, pt.shape[1])
    rows = table(n, topology) if n >= n_slots else np.zeros((0, n_slots), dtype=np.int64)
    p4 = four_vectors(pt[:, :n], eta[:, :n], phi[:, :n], mass[:, :n])
    terms = triplet_terms(p4, s).reshape(len(pt), -1)
    pairs, n_pairs = pair_index(n), n * (n - 1) // 2
    tops = [rows[:, b] * n_pairs + pairs[rows[:, q1], rows[:, q2]]  # rows have q1 < q2
            for b, q1, q2 in topology.cascade_slots]
    chi2 = reduce(np.add, (terms[:, top] for top in tops))  # (events, rows)
    if topology.pairs:
        j, k = np.triu_indices(n, 1)
        pair_mass = invariant_mass(p4[:, j] + p4[:, k]).astype(np.float32)  # (events, pairs)
        for decay, sigma in zip(topology.pairs, s.pair_widths(topology), strict=True):
            a, b = decay.pair  # rows have a < b
            chi2 = chi2 + (((pair_mass - decay.resonance.mass) / sigma) ** 2)[:, pairs[rows[:, a], rows[:, b]]]
    usable = rows.max(axis=1, initial=0)[None, :] < np.minimum(n_real, n)[:, None]
    if s.btag_aware:
        usable &= btag_allowed(rows, btag[:, :n] > 0, topology)
    chi2 = np.where(usable, chi2, np.inf)
    best = chi2.argmin(axis=1) if rows.size else np.zeros(len(pt), dtype=np.int64)
    value = chi2[np.arange(len(pt)), best] if rows.size else np.full(len(pt), np.inf)
    slots = np.where(np.isfinite(value)[:, None], rows[best] if rows.size else -1, -1)
    return slots, value


PAIR_WINDOW = 40.0
"""GeV either side of a two-body decay's mass within which its width is fitted (as the W's)."""


def topology_settings(topology: Topology, **fields) -> Chi2Settings:
    """Chi2Settings with the masses of `topology`'s cascades (the top and W of its file), the
    other fields as given: the stages take the masses from the run's topology, not the default."""
    top, w = topology.cascade_resonances
    return Chi2Settings(m_top=top.mass, m_w=w.mass, **fields)


def fit_widths(m_top: np.ndarray, m_w: np.ndarray, s: Chi2Settings, topology: Topology = TOPOLOGY,
               m_pairs: np.ndarray | None = None) -> dict:
    """Gaussian core widths of the truth-matched top and W candidate masses (GeV), and how each
    was obtained; for a topology with two-body decays also those of their candidates (`m_pairs`
    (events, pairs), t tbar H: m_bb around m_H), by particle under `sigma_pairs` and
    `method_pairs` (keys a topology without them does not write)."""
    top, top_method = core_width(m_top, s.m_top, 60.0)
    w, w_method = core_width(m_w, s.m_w, 40.0)
    out = {"sigma_top": top, "sigma_w": w, "method_top": top_method, "method_w": w_method,
           "n_events": int(len(m_top) // len(topology.cascades))}
    if topology.pairs:
        if m_pairs is None:
            raise ValueError(f"topology {topology.name!r} has two-body decays {[p.particle for p in topology.pairs]}: "
                             "fit_widths needs their truth-matched masses (m_pairs)")
        fits = {p.particle: core_width(m_pairs[:, k], p.resonance.mass, PAIR_WINDOW)
                for k, p in enumerate(topology.pairs)}
        out["sigma_pairs"] = {particle: sigma for particle, (sigma, _) in fits.items()}
        out["method_pairs"] = {particle: method for particle, (_, method) in fits.items()}
    return out


def calibrated_pair_widths(calibration: dict, topology: Topology) -> tuple[float, ...]:
    """The fitted width of each two-body decay of `topology`, in its order, from the calibration
    file `fit_widths` wrote (none for t tbar)."""
    fitted = calibration.get("sigma_pairs", {})
    missing = [p.particle for p in topology.pairs if p.particle not in fitted]
    if missing:
        raise ValueError(f"the chi^2 calibration has no mass width for the two-body decays {missing} of topology "
                         f"{topology.name!r}; rerun the rule chi2_widths on this topology's training set")
    return tuple(float(fitted[p.particle]) for p in topology.pairs)


MIN_FIT_ENTRIES = 200


def core_width(values: np.ndarray, centre: float, window: float) -> tuple[float, str]:
    """A Gaussian fit to the histogram within `window` of `centre`; with fewer than
    MIN_FIT_ENTRIES entries (or no convergence) the robust 1.4826 x median absolute deviation."""
    values = values[np.abs(values - centre) < window]
    if len(values) < 3:
        raise ValueError(f"only {len(values)} truth-matched mass values within {window} GeV of {centre} GeV: "
                         "too few to fit the chi^2 widths; generate more events")
    robust = float(1.4826 * np.median(np.abs(values - np.median(values))))
    if len(values) < MIN_FIT_ENTRIES:
        return robust, "median absolute deviation"
    counts, edges = np.histogram(values, bins=30)
    x = 0.5 * (edges[1:] + edges[:-1])

    def gauss(v, norm, mean, sigma):
        return norm * np.exp(-0.5 * ((v - mean) / sigma) ** 2)

    try:
        (_, _, sigma), _ = curve_fit(gauss, x, counts, p0=(counts.max(), float(np.median(values)), robust),
                                     sigma=np.sqrt(np.maximum(counts, 1)))
    except RuntimeError:
        return robust, "median absolute deviation (Gaussian fit did not converge)"
    return float(abs(sigma)), "Gaussian fit"


class Chi2Adapter:
    """The chi^2 in the common baseline interface (analysis.methods.baselines.BaselineAdapter):
    calibrated by the widths fitted on the matched training events (rule chi2_widths), on the
    run's topology (`cfg.topology`: its masses, and a Higgs term for t tbar H)."""

    chunk = 2000

    @staticmethod
    def assigner(cfg: Config, calibration: dict, n_jets: int, btag_aware: bool) -> tuple[Assigner, dict]:
        topology = cfg.topology
        settings = topology_settings(topology, sigma_top=calibration["sigma_top"], sigma_w=calibration["sigma_w"],
                                     n_jets=n_jets, btag_aware=btag_aware,
                                     sigma_pairs=calibrated_pair_widths(calibration, topology))

        def assign(jets: dict[str, np.ndarray], n_real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return best_assignment(jets["pt"], jets["eta"], jets["phi"], jets["mass"], jets["btag"], n_real, settings,
                                   topology)

        return assign, settings.__dict__


ADAPTER = Chi2Adapter()
