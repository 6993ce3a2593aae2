"""Evaluation: known answers of the metrics, an oracle and a random assignment on generated ttbar,
t <-> tbar invariance, and the luminosity normalisation of the mass histograms."""
from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pytest
from scipy.stats import gaussian_kde

from analysis.datasets import build_table
from analysis.evaluation import metrics, reconstruction
from analysis.methods.permutations import count, table
from analysis.topology import MATCHED, TOPOLOGY

TRUTH = np.array([0, 1, 2, 3, 4, 5])


def events_of(truth, assignment, category=None, score=None, valid=None, n_jets=None, probabilities=None,
              sample="ttbar", weight_pb=None, topology=TOPOLOGY) -> metrics.Events:
    truth, assignment = np.atleast_2d(truth), np.atleast_2d(assignment)
    n = len(truth)
    n_jets = np.full(n, 6) if n_jets is None else np.asarray(n_jets)
    if probabilities is None:
        probabilities = ak.unflatten(np.zeros((0, len(TOPOLOGY.classes)), np.float32), np.zeros(n, np.int64))
    return metrics.Events(sample=np.full(n, sample), event=np.arange(n),
                          category=np.zeros(n, int) if category is None else np.asarray(category),
                          weight_pb=np.ones(n) if weight_pb is None else np.asarray(weight_pb), n_jets=n_jets,
                          truth=truth, assignment=assignment,
                          valid=np.ones(n, bool) if valid is None else np.asarray(valid),
                          score=np.zeros(n) if score is None else np.asarray(score, float),
                          probabilities=probabilities, topology=topology)


def test_tops_are_found_up_to_swaps_and_only_when_reconstructable():
    truth = np.array([TRUTH, TRUTH, [0, 1, 2, 3, -1, 5]])
    assignment = np.array([[3, 5, 4, 0, 2, 1], [0, 1, 6, 3, 4, 5], [0, 2, 1, 3, 4, 5]])
    reconstructable, found = metrics.particles_correct(assignment, truth, TOPOLOGY)
    assert reconstructable.tolist() == [[True, True], [True, True], [True, False]]
    assert found.tolist() == [[True, True], [False, True], [True, False]]


def test_spanet_table_on_a_known_example():
    # event 0: complete, both right; 1: complete, one top right; 2: one reconstructable top, found;
    # 3: complete, 7 jets, nothing right
    truth = np.array([TRUTH, TRUTH, [0, 1, 2, -1, 4, 5], TRUTH])
    assignment = np.array([[3, 4, 5, 0, 1, 2], [0, 1, 2, 3, 4, 6], [0, 2, 1, 3, 4, 5], [6, 1, 2, 3, 0, 5]])
    events = events_of(truth, assignment, category=[0, 0, 1, 0], n_jets=[6, 6, 6, 7])
    rows = {r["n_jets"]: r for r in metrics.spanet_table(events)}
    assert rows["all"]["complete_events"]["event_efficiency"] == pytest.approx(1 / 3)
    assert rows["all"]["complete_events"]["top_efficiency"] == pytest.approx(3 / 6)
    assert rows["all"]["all_events"]["event_efficiency"] == pytest.approx(2 / 4)
    assert rows["all"]["all_events"]["top_efficiency"] == pytest.approx(4 / 7)
    assert rows["6"]["all_events"]["event_fraction"] == pytest.approx(3 / 4)
    assert rows["7"]["complete_events"]["top_efficiency"] == 0.0


def test_spanet_event_fractions_are_of_all_signal_events_and_tops_count_in_invalid_assignments():
    # 0: complete; 1: one top reconstructable; 2 and 3: no top reconstructable (still signal events)
    no_top = [0, -1, 2, -1, 4, 5]
    truth = np.array([TRUTH, [0, 1, 2, -1, 4, 5], no_top, no_top])
    # event 0's assignment is invalid for the event (e.g. a SAJA class count is off, so the W2
    # slots are empty) but its first top is right: the top counts, the event does not
    assignment = np.array([[0, 1, 2, 3, -1, -1], [0, 2, 1, 3, 4, 5], TRUTH, TRUTH])
    events = events_of(truth, assignment, category=[0, 1, 1, 1], valid=[False, True, True, True])
    rows = {r["n_jets"]: r for r in metrics.spanet_table(events)}
    assert rows["all"]["all_events"]["event_fraction"] == pytest.approx(2 / 4)
    assert rows["all"]["complete_events"]["event_fraction"] == pytest.approx(1 / 4)
    assert rows["all"]["complete_events"]["top_efficiency"] == pytest.approx(1 / 2)
    assert rows["all"]["complete_events"]["event_efficiency"] == 0.0
    assert rows["all"]["all_events"]["top_efficiency"] == pytest.approx(2 / 3)


def test_fraction_intervals_are_clopper_pearson_and_never_empty():
    p, low, high = metrics.fraction(np.zeros(10, bool))
    assert (p, low) == (0.0, 0.0) and high == pytest.approx(1 - 0.15865525393145707 ** (1 / 10))
    p, low, high = metrics.fraction(np.ones(10, bool))
    assert (p, high) == (1.0, 1.0) and low == pytest.approx(0.15865525393145707 ** (1 / 10))
    p, low, high = metrics.fraction(np.arange(400) < 100)
    assert low < p < high and (high - low) / 2 == pytest.approx(np.sqrt(0.25 * 0.75 / 400), rel=0.1)  # conservative
    weights = np.where(np.arange(400) < 200, 1.0, 3.0)  # Kish: 800^2 / 2000 = 320 effective events
    p_w, low_w, high_w = metrics.fraction(np.arange(400) < 100, weights)
    assert p_w == pytest.approx(100 / 800)
    unweighted = [metrics.fraction(np.arange(320) < 40)[i] for i in (1, 2)]  # the same fraction of 320 events
    assert [low_w, high_w] == pytest.approx(unweighted)


def test_performance_curve_counts_accepted_events():
    truth = np.array([TRUTH] * 4 + [[-1] * 6] * 2)
    wrong = [1, 0, 2, 3, 4, 5]
    assignment = np.array([TRUTH, TRUTH, wrong, wrong, TRUTH, TRUTH])
    events = events_of(truth, assignment, category=[0, 0, 0, 0, 1, 2], score=[0.1, 0.5, 0.2, 0.9, 0.3, 0.05],
                       valid=[True, True, True, False, True, True])
    curve = metrics.performance_curve(events)
    at = {t: i for i, t in enumerate(curve["threshold"])}
    i = at[0.2]
    assert (curve["correct"][i], curve["wrong"][i]) == (0.25, 0.25)
    assert (curve["unmatched_rejection"][i], curve["background_rejection"][i]) == (1.0, 0.0)
    last = at[np.inf]
    assert (curve["correct"][last], curve["wrong"][last]) == (0.5, 0.25)  # the invalid event is never accepted


def _swap_tops(events: metrics.Events) -> metrics.Events:
    """The same predictions with the two tops' labels exchanged."""
    class_swap = np.array([TOPOLOGY.class_names.index(x) for x in ("b2", "W2", "b1", "W1", "other")])
    probabilities = events.probabilities[:, :, class_swap]
    return metrics.Events(**{**{k: getattr(events, k) for k in events.__dataclass_fields__},
                             "assignment": events.assignment[:, [3, 4, 5, 0, 1, 2]], "probabilities": probabilities})


def test_metrics_do_not_change_when_a_method_swaps_its_top_labels():
    rng = np.random.default_rng(0)
    n = 300
    truth = np.array([rng.permutation(8)[:6] for _ in range(n)])
    assignment = np.where(rng.uniform(size=(n, 1)) < 0.4, truth, np.array([rng.permutation(8)[:6] for _ in range(n)]))
    p = rng.dirichlet(np.ones(len(TOPOLOGY.classes)), size=n * 8).astype(np.float32)
    events = events_of(truth, assignment, category=rng.integers(0, 3, n), score=rng.uniform(size=n),
                       n_jets=np.full(n, 8), probabilities=ak.unflatten(p, np.full(n, 8)),
                       valid=rng.uniform(size=n) < 0.8)
    swapped = _swap_tops(events)
    for function in (metrics.correct_by_njets, metrics.spanet_table, metrics.performance_curve):
        assert json.dumps(function(events)) == json.dumps(function(swapped))
    np.testing.assert_allclose(metrics.confusion_matrix(events), metrics.confusion_matrix(swapped))


def _matched_ttbar(pipeline):
    events = ak.from_parquet(pipeline.matched["ttbar"])
    t = build_table(events[events.category == MATCHED], 0, 20, shapes=False)
    jets = {name: t.inputs[name].astype(np.float64) for name in ("pt", "eta", "phi", "mass")}
    return t, jets


def _peak(values: np.ndarray, low: float, high: float) -> float:
    """Position of the maximum of a Gaussian kernel density estimate on (low, high)."""
    values = values[(values > low) & (values < high)]
    grid = np.linspace(low, high, 1601)
    return float(grid[np.argmax(gaussian_kde(values)(grid))])


def _peak_and_error(values: np.ndarray, low: float, high: float) -> tuple[float, float]:
    rng = np.random.default_rng(3)
    boot = [_peak(rng.choice(values, len(values)), low, high) for _ in range(40)]
    return _peak(values, low, high), float(np.std(boot))


@pytest.mark.xdist_group("pipeline")
def test_oracle_assignment_is_always_correct_and_peaks_at_the_w_and_top_masses(pipeline):
    t, jets = _matched_ttbar(pipeline)
    n_jets = t.inputs["MASK"].sum(axis=1)
    oracle = events_of(t.targets, t.targets, n_jets=n_jets)
    assert metrics.correct_by_njets(oracle)["inclusive"]["fraction"] == 1.0
    masses = reconstruction.candidate_masses(jets, t.targets, TOPOLOGY)
    w, top = masses["w"], masses["top"]
    # The peaks within 3 (W) and 5 GeV (top) of the pole masses, allowing for the statistical
    # error of a test-scale sample (~45 events): on the default config's 3251 matched training
    # events the same estimate gives 79.7 and 168.8 GeV (jets lose energy to neutrinos and
    # out-of-cone radiation).
    w_peak, w_error = _peak_and_error(w.ravel(), 40, 120)
    top_peak, top_error = _peak_and_error(top.ravel(), 100, 250)
    assert abs(w_peak - 80.4) < 3.0 + 2 * w_error
    assert abs(top_peak - 172.5) < 5.0 + 2 * top_error


@pytest.mark.xdist_group("pipeline")
def test_random_assignment_is_right_as_often_as_combinatorics_says(pipeline):
    t, _ = _matched_ttbar(pipeline)
    n_jets = t.inputs["MASK"].sum(axis=1)
    rng = np.random.default_rng(1)
    draws, hits, expected = 400, 0, 0.0
    for truth, n in zip(t.targets, n_jets, strict=True):
        rows = table(int(n))
        picks = rows[rng.integers(0, len(rows), draws)]
        hits += int(events_of(np.repeat(truth[None], draws, 0), picks).correct.sum())
        expected += draws / count(int(n))
    assert abs(hits - expected) < 4 * np.sqrt(expected)


@pytest.mark.xdist_group("pipeline")
def test_weighted_histograms_integrate_to_cross_section_times_luminosity(pipeline):
    """A 30 % evaluation subset of each sample, scaled back: sigma x L x efficiency of the cutflow."""
    rng = np.random.default_rng(2)
    luminosity = 35910.0
    parts, selected, jets_all = [], {}, []
    for sample in ("ttbar", "qcd"):
        events = ak.from_parquet(pipeline.matched[sample])
        t = build_table(events, 0, 20, shapes=False)
        keep = rng.uniform(size=len(t.targets)) < 0.3
        n = int(keep.sum())
        cutflow = json.loads(pipeline.cutflow[sample].read_text())["cutflow"]
        selected[sample] = cutflow[-1]["cross_section_pb"]
        assert selected[sample] == pytest.approx(cutflow[0]["cross_section_pb"] * cutflow[-1]["efficiency"])
        parts.append(events_of(np.full((n, 6), -1), np.tile(TRUTH, (n, 1)), category=np.full(n, 2 if sample == "qcd" else 1),
                               weight_pb=t.extra["weight_pb"][keep], sample=sample, n_jets=t.extra["n_jets"][keep]))
        jets_all.append({name: t.inputs[name][keep].astype(np.float64) for name in ("pt", "eta", "phi", "mass")})
    events = metrics.Events(**{k: np.concatenate([getattr(p, k) for p in parts]) if k != "probabilities"
                               else ak.concatenate([p.probabilities for p in parts]) for k in metrics.Events.columns()},
                            topology=TOPOLOGY)
    jets = {name: np.concatenate([j[name] for j in jets_all]) for name in ("pt", "eta", "phi", "mass")}
    weights = reconstruction.yields(events, selected, luminosity)
    histograms = reconstruction.mass_histograms(events, jets, weights, cut=np.inf)
    for sample, group in (("ttbar", "unmatched"), ("qcd", "background")):
        integral = histograms["w"][:, group].values(flow=True).sum() / 2  # two W candidates per event
        assert integral == pytest.approx(selected[sample] * luminosity, rel=1e-9)


def test_score_cut_by_efficiency_keeps_that_fraction_of_matched_events():
    events = events_of(np.tile(TRUTH, (5, 1)), np.tile(TRUTH, (5, 1)), category=[0, 0, 0, 0, 1],
                       score=[0.4, 0.1, 0.3, 0.2, 0.0], valid=[True, True, True, False, True])
    assert reconstruction.score_cut(events, None, 0.5) == 0.3   # 2 of the 4 matched events
    assert reconstruction.score_cut(events, None, 1.0) == np.inf  # the invalid one can never pass
    assert reconstruction.score_cut(events, 0.074, None) == 0.074
    none_valid = events_of(TRUTH, TRUTH, valid=[False])
    assert reconstruction.score_cut(none_valid, None, 0.2) is None


def test_tables_name_methods_by_label_with_their_key():
    """The headline tables show what the legends show (a legend's mathtext as plain text, escaped
    in LaTeX), with the config key beside a label that differs from it."""
    from analysis.evaluation.summary import render_table

    bins = ["inclusive"] + [metrics.bin_label(lo, hi) for lo, hi in metrics.jet_bins(TOPOLOGY)]
    cell = {"fraction": 0.5, "low": 0.45, "high": 0.55}
    row = {"n_jets": "6", **{k: {"event_fraction": 0.2, "event_efficiency": 0.5, "top_efficiency": 0.6}
                             for k in ("all_events", "complete_events")}}
    result = {"methods": {m: {"correct_by_njets": dict.fromkeys(bins, cell), "spanet_table": [row]}
                          for m in ("saja_paper", "chi2_7", "spanet")},
              "labels": {"methods": {"saja_paper": "SAJA (paper)", "chi2_7": r"$\chi^2$, 7 jets", "spanet": "spanet"}}}
    markdown, latex = (render_table(result, fmt, TOPOLOGY, {}, "ttbar") for fmt in ("md", "tex"))
    assert "| SAJA (paper) (saja_paper) | 50.0 +5.0 -5.0 |" in markdown
    assert "**Correct assignments on matched ttbar (%, 68 % Clopper-Pearson interval)**" in markdown
    assert "| chi^2, 7 jets (chi2_7) | 50.0" in markdown and "| spanet | 50.0" in markdown
    assert r"chi\^{}2, 7 jets (chi2\_7) & 50.0" in latex and "$" not in latex.replace("$>$", "").replace(r"$\pm$", "")
