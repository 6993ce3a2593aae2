"""Extracting pure quark and gluon tagger distributions from two mixtures (seed 004).

Forward (F) and central (C) jets of dijet events mix quarks and gluons with different quark
fractions f_F, f_C; with sample independence the tagger-output densities are

    p_F(x) = f_F p_q(x) + (1 - f_F) p_g(x),     p_C(x) = f_C p_q(x) + (1 - f_C) p_g(x).

* Matrix method: f_F, f_C from MC; invert the 2 x 2 mixing matrix bin by bin.
* Jet topics: no fractions needed. The reducibility factors kappa(A, B) = min_x p_A(x) / p_B(x)
  (taken on bins of equal combined content, the seed's cumulative-sum rebinning) give the
  topics  p_q = (p_F - kappa(F, C) p_C) / (1 - kappa(F, C)),  p_g = (p_C - kappa(C, F) p_F) / (1 - kappa(C, F)).
  They are the pure distributions when quark and gluon are mutually irreducible
  (kappa(q, g) = kappa(g, q) = 0); otherwise the seed's MC correction with kappa(q, g),
  kappa(g, q) from simulation recovers them.

The seed's slide writes kappa(F, C) = exp(-max_q ln p_F(q) / p_C(q)), which is min_q p_C / p_F,
the inverse of its own definition two lines above; the definition kappa(F, C) = min p_F / p_C
(Metodiev and Thaler) is used here.

Distributions are histograms over the same bins: arrays of counts or densities, normalised here.
"""
from __future__ import annotations

import numpy as np


def normalised(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    return counts / counts.sum()


def matrix_method(p_forward: np.ndarray, p_central: np.ndarray, f_forward: float, f_central: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(p_q, p_g) from the two mixtures and their quark fractions."""
    if np.isclose(f_forward, f_central):
        raise ValueError("the forward and central quark fractions must differ for the matrix method")
    mixing = np.array([[f_forward, 1 - f_forward], [f_central, 1 - f_central]])
    p_q, p_g = np.linalg.solve(mixing, np.stack([normalised(p_forward), normalised(p_central)]))
    return p_q, p_g


def quantile_groups(p_a: np.ndarray, p_b: np.ndarray, n_groups: int) -> np.ndarray:
    """Group index of each bin: adjacent bins merged so that each group holds about the same
    share of p_a + p_b (bins characterised by their cumulative-sum fraction)."""
    total = normalised(p_a) + normalised(p_b)
    cumulative = np.cumsum(total) / total.sum()
    centre = cumulative - 0.5 * total / total.sum()
    return np.minimum((centre * n_groups).astype(int), n_groups - 1)


def kappa(p_a: np.ndarray, p_b: np.ndarray, n_groups: int | None = None) -> float:
    """Reducibility factor min_x p_a(x) / p_b(x), on `n_groups` groups of equal combined content
    (every bin its own group when None)."""
    a, b = normalised(p_a), normalised(p_b)
    if n_groups is not None:
        groups = quantile_groups(a, b, n_groups)
        a, b = np.bincount(groups, weights=a), np.bincount(groups, weights=b)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(b > 0, a / b, np.inf)
    return float(ratio.min())


def jet_topics(p_forward: np.ndarray, p_central: np.ndarray, n_groups: int | None = None
               ) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(quark topic, gluon topic, kappa(F, C), kappa(C, F)). The forward sample is the more
    quark-like one."""
    p_f, p_c = normalised(p_forward), normalised(p_central)
    k_fc, k_cf = kappa(p_f, p_c, n_groups), kappa(p_c, p_f, n_groups)
    if max(k_fc, k_cf) >= 1 - 1e-9:
        raise ValueError(f"jet topics undefined: kappa(F, C) = {k_fc:.3f}, kappa(C, F) = {k_cf:.3f}; 1 means the "
                         "forward and central distributions are indistinguishable at this binning")
    return (p_f - k_fc * p_c) / (1 - k_fc), (p_c - k_cf * p_f) / (1 - k_cf), k_fc, k_cf


def correct_topics(topic_q: np.ndarray, topic_g: np.ndarray, kappa_qg: float, kappa_gq: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Pure distributions from the topics when quark and gluon are not mutually irreducible,
    with kappa(q, g) and kappa(g, q) taken from simulation (seed 004)."""
    denominator = 1 - kappa_gq * kappa_qg
    if denominator <= 1e-9:
        raise ValueError(f"the topics correction is undefined for kappa(q, g) = {kappa_qg:.3f}, "
                         f"kappa(g, q) = {kappa_gq:.3f}: the simulated quark and gluon distributions coincide")
    p_q = (topic_q * (1 - kappa_qg) + (1 - kappa_gq) * kappa_qg * topic_g) / denominator
    p_g = (topic_g * (1 - kappa_gq) + (1 - kappa_qg) * kappa_gq * topic_q) / denominator
    return p_q, p_g


def efficiency(p: np.ndarray, edges: np.ndarray, threshold: float) -> float:
    """Fraction of the distribution above `threshold` (bins split linearly at the threshold)."""
    p = normalised(p)
    low, high = edges[:-1], edges[1:]
    above = np.clip((high - threshold) / (high - low), 0.0, 1.0)
    return float((p * above).sum())


def working_point(p_q: np.ndarray, edges: np.ndarray, quark_efficiency: float) -> float:
    """The tagger threshold at which the quark efficiency is `quark_efficiency`."""
    p = normalised(p_q)
    tail = np.concatenate([np.cumsum(p[::-1])[::-1], [0.0]])  # efficiency at each edge
    return float(np.interp(-quark_efficiency, -tail, edges))


def scale_factors(eff_q_data: float, eff_q_mc: float, eff_g_data: float, eff_g_mc: float) -> tuple[float, float]:
    """SF_q = eps_q^data / eps_q^MC and SF_g = (1 - eps_g^data) / (1 - eps_g^MC), as the seed defines them."""
    return eff_q_data / eff_q_mc, (1 - eff_g_data) / (1 - eff_g_mc)
