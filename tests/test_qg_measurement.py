"""Scale factors per pT bin (analysis.qg.measurement) on jets drawn from known distributions."""
from __future__ import annotations

import numpy as np
import pytest

from analysis.qg.measurement import Jets, measure_bin, performance

EDGES = np.linspace(0.0, 1.0, 21)


def draw(rng, n, f_forward, f_central, quark=(5.0, 2.0), gluon=(2.0, 4.0)) -> Jets:
    """n forward and n central jets: tagger scores from Beta distributions, quark fraction per region."""
    forward = np.repeat([True, False], n)
    is_quark = rng.random(2 * n) < np.where(forward, f_forward, f_central)
    score = np.where(is_quark, rng.beta(*quark, 2 * n), rng.beta(*gluon, 2 * n))
    return Jets(score, np.full(2 * n, 300.0), forward, np.where(is_quark, 1, 21), np.ones(2 * n))


def measure(data: Jets, mc: Jets, seed=1) -> dict:
    return measure_bin(data, mc, EDGES, (0.5, 0.8), (8, 5, 12), 30, np.random.default_rng(seed))


def pulls(result: dict, method: str, key: str = "sf_q") -> np.ndarray:
    return np.array([(p[key] - 1) / p[f"{key}_unc"]["total"] for p in result["methods"][method]["working_points"]])


def test_mc_as_data_gives_unit_scale_factors_within_uncertainties():
    rng = np.random.default_rng(7)
    mc, data = draw(rng, 40_000, 0.6, 0.3), draw(rng, 20_000, 0.6, 0.3)
    result = measure(data, mc)
    for method in ("matrix", "topics"):
        for key in ("sf_q", "sf_g"):
            assert np.all(np.abs(pulls(result, method, key)) < 3), (method, key, pulls(result, method, key))
    stat = [p["sf_q_unc"]["stat"] for p in result["methods"]["matrix"]["working_points"]]
    assert all(0 < s < 0.1 for s in stat)
    assert {"stat", "nonclosure", "kappa", "total"} == set(result["methods"]["topics"]["working_points"][0]["sf_q_unc"])


def test_working_points_are_mc_quark_efficiencies():
    rng = np.random.default_rng(3)
    result = measure(draw(rng, 20_000, 0.6, 0.3), draw(rng, 20_000, 0.6, 0.3))
    assert [m["eps_q"] for m in result["mc"]] == pytest.approx([0.5, 0.8], abs=1e-9)
    assert all(m["eps_g"] < m["eps_q"] for m in result["mc"])


def test_pseudo_data_scale_factors_match_the_known_answer():
    """Data quarks score lower than the MC's (another shower) at the same quark fractions: both
    methods recover the true SF (known from the data's labels) within their uncertainty, and the
    known answer is far from 1."""
    rng = np.random.default_rng(11)
    mc = draw(rng, 60_000, 0.6, 0.3)
    data = draw(rng, 60_000, 0.6, 0.3, quark=(4.0, 2.0))
    result = measure(data, mc)
    for method in ("matrix", "topics"):
        for i, point in enumerate(result["methods"][method]["working_points"]):
            true = result["data_truth"][i]["sf_q"]
            assert abs(true - 1) > 0.03
            assert point["sf_q"] == pytest.approx(true, abs=3 * point["sf_q_unc"]["total"]), method


def test_matrix_method_closes_exactly_under_sample_independence():
    """The same quark and gluon jets in both regions, weighted to fractions 0.6 and 0.3: the MC's
    own mixtures give back its truth exactly, so SF = 1 with no non-closure."""
    rng = np.random.default_rng(5)
    n = 10_000
    quark = np.repeat([True, False], n)
    score = np.where(quark, rng.beta(5, 2, 2 * n), rng.beta(2, 4, 2 * n))
    weight = {f: np.where(quark, f, 1 - f) / n for f in (0.6, 0.3)}
    mc = Jets(np.tile(score, 2), np.full(4 * n, 300.0), np.repeat([True, False], 2 * n),
              np.tile(np.where(quark, 2, 21), 2), np.concatenate([weight[0.6], weight[0.3]]))
    result = measure(mc, mc)
    for point in result["methods"]["matrix"]["working_points"]:
        assert point["sf_q"] == pytest.approx(1.0, abs=1e-9) and point["sf_g"] == pytest.approx(1.0, abs=1e-9)
        assert point["sf_q_unc"]["nonclosure"] == pytest.approx(0.0, abs=1e-9)


def test_indistinguishable_regions_are_reported_not_divided_by_zero():
    rng = np.random.default_rng(2)
    jets = draw(rng, 5_000, 0.4, 0.4)
    twin = np.concatenate([jets.forward, ~jets.forward])  # every jet once forward and once central
    same = Jets(*(np.concatenate([a, a]) for a in (jets.score, jets.pt)), twin,
                *(np.concatenate([a, a]) for a in (jets.flavour, jets.weight)))
    result = measure(same, same)
    for method in ("matrix", "topics"):
        assert "failed" in result["methods"][method]


def test_performance_known_answers():
    score = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1])
    quark = np.array([True, True, False, True, False, True, False, False])
    perf = performance(score, quark)
    assert perf["auc"] == pytest.approx(13 / 16)  # 13 of the 16 (quark, gluon) pairs are ordered
    separated = performance(np.array([0.9, 0.8, 0.2, 0.1]), np.array([True, True, False, False]))
    assert separated["auc"] == pytest.approx(1.0) and separated["gluon_rejection_at_50"] == np.inf
    rng = np.random.default_rng(0)
    random = performance(rng.random(100_000), rng.random(100_000) < 0.5)
    assert random["auc"] == pytest.approx(0.5, abs=0.01) and random["gluon_rejection_at_50"] == pytest.approx(2, rel=0.05)


def test_data_without_truth_is_calibrated_without_a_known_answer():
    rng = np.random.default_rng(4)
    mc, data = draw(rng, 20_000, 0.6, 0.3), draw(rng, 10_000, 0.6, 0.3)
    real = Jets(data.score, data.pt, data.forward, np.full(len(data.score), -1), data.weight)
    result = measure(real, mc)
    assert "data_truth" not in result and set(result["templates"]["data"]) == {"F", "C"}
    with_truth = measure(data, mc)
    for method in ("matrix", "topics"):
        assert result["methods"][method]["working_points"] == with_truth["methods"][method]["working_points"]
