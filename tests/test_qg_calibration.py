"""Matrix method and jet topics: closure on mixtures of known pure distributions."""
from __future__ import annotations

import numpy as np
import pytest

from analysis.qg.calibration import (
    correct_topics,
    efficiency,
    jet_topics,
    kappa,
    matrix_method,
    normalised,
    scale_factors,
    working_point,
)

EDGES = np.linspace(0, 1, 41)
X = 0.5 * (EDGES[1:] + EDGES[:-1])


def shapes(overlap: bool):
    """Quark-like peaks at high x, gluon-like at low x; without overlap each has a pure region."""
    quark = np.exp(-0.5 * ((X - 0.75) / 0.12) ** 2)
    gluon = np.exp(-0.5 * ((X - 0.3) / 0.15) ** 2)
    if not overlap:
        quark[X < 0.2] = 0.0
        gluon[X > 0.85] = 0.0
    else:
        quark += 0.05
        gluon += 0.05
    return normalised(quark), normalised(gluon)


def mixtures(p_q, p_g, f_forward=0.7, f_central=0.35):
    return f_forward * p_q + (1 - f_forward) * p_g, f_central * p_q + (1 - f_central) * p_g


def test_matrix_method_returns_the_pure_distributions_exactly():
    p_q, p_g = shapes(overlap=True)
    q, g = matrix_method(*mixtures(p_q, p_g), 0.7, 0.35)
    np.testing.assert_allclose(q, p_q, atol=1e-12)
    np.testing.assert_allclose(g, p_g, atol=1e-12)
    with pytest.raises(ValueError, match="must differ"):
        matrix_method(*mixtures(p_q, p_g), 0.5, 0.5)


def test_jet_topics_are_the_pure_distributions_under_mutual_irreducibility():
    p_q, p_g = shapes(overlap=False)
    assert kappa(p_q, p_g) == 0 and kappa(p_g, p_q) == 0
    q, g, k_fc, k_cf = jet_topics(*mixtures(p_q, p_g))
    np.testing.assert_allclose(q, p_q, atol=1e-12)
    np.testing.assert_allclose(g, p_g, atol=1e-12)
    # kappa(F, C) = (1 - f_F) / (1 - f_C) where only gluons live; kappa(C, F) = f_C / f_F where only quarks
    assert k_fc == pytest.approx(0.3 / 0.65) and k_cf == pytest.approx(0.35 / 0.7)


def test_topics_need_the_mc_correction_without_irreducibility():
    p_q, p_g = shapes(overlap=True)
    k_qg, k_gq = kappa(p_q, p_g), kappa(p_g, p_q)
    assert k_qg > 0 and k_gq > 0
    q, g, _, _ = jet_topics(*mixtures(p_q, p_g))
    assert np.abs(q - p_q).max() > 1e-3  # the bare topics are off
    corrected_q, corrected_g = correct_topics(q, g, k_qg, k_gq)
    np.testing.assert_allclose(corrected_q, p_q, atol=1e-12)
    np.testing.assert_allclose(corrected_g, p_g, atol=1e-12)


def test_quantile_grouping_keeps_the_answer_and_smooths_statistics():
    rng = np.random.default_rng(0)
    p_q, p_g = shapes(overlap=False)
    p_f, p_c = mixtures(p_q, p_g)
    n = 200_000
    counts_f, counts_c = rng.multinomial(n, p_f), rng.multinomial(n, p_c)
    exact = 0.3 / 0.65
    assert kappa(counts_f, counts_c, n_groups=8) == pytest.approx(exact, abs=0.03)


def test_efficiencies_working_points_and_scale_factors():
    p_q, p_g = shapes(overlap=True)
    for target in (0.5, 0.8):
        wp = working_point(p_q, EDGES, target)
        assert efficiency(p_q, EDGES, wp) == pytest.approx(target, abs=1e-9)
        assert efficiency(p_g, EDGES, wp) < target
    # MC as data: scale factors are one
    assert scale_factors(0.5, 0.5, 0.1, 0.1) == (1.0, 1.0)
    sf_q, sf_g = scale_factors(0.55, 0.5, 0.2, 0.1)
    assert sf_q == pytest.approx(1.1) and sf_g == pytest.approx(0.8 / 0.9)
