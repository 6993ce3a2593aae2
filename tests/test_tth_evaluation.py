"""The evaluation and the chi^2 calibration on all-hadronic t tbar H (config/topology/tth_allhad.yaml,
the SPA-NET talk's second table): known answers of the metrics with the Higgs efficiency, their
blindness to each symmetry of the topology, the Higgs mass width fitted on synthetic matched
events, the Higgs candidate mass of exact decays, and the tables and figures that name the
topology's particles, classes and the baselines it does not run."""
from __future__ import annotations

import copy
import json
from types import SimpleNamespace

import awkward as ak
import numpy as np
import pytest

from analysis import assignments, topology
from analysis.core.kinematics import cascade_masses, four_vectors, invariant_mass, pair_masses
from analysis.evaluation import metrics, reconstruction
from analysis.evaluation.summary import render_table
from analysis.methods.chi2 import ADAPTER, fit_widths, topology_settings
from analysis.topology import BACKGROUND, MATCHED, ROOT, TOPOLOGY, UNMATCHED

from .test_chi2 import two_body

TTH = topology.load(ROOT / "config" / "topology" / "tth_allhad.yaml")
TRUTH = list(range(8))
SWAPS = {"t <-> tbar": [3, 4, 5, 0, 1, 2, 6, 7], "q <-> q' (top)": [0, 2, 1, 3, 4, 5, 6, 7],
         "q <-> q' (antitop)": [0, 1, 2, 3, 5, 4, 6, 7], "b <-> b (Higgs)": [0, 1, 2, 3, 4, 5, 7, 6]}
"""Each generator of the t tbar H symmetry group as a reordering of the slots."""
NOT_RUN = {"klfitter": "KLFitter has no likelihood for t tbar H, so neither has this fit"}
"""What the config's `baselines.not_run` holds on t tbar H."""


def events_of(truth, assignment, category, n_jets, probabilities=None, score=None, valid=None) -> metrics.Events:
    truth, assignment = np.asarray(truth), np.asarray(assignment)
    n = len(truth)
    if probabilities is None:
        probabilities = ak.unflatten(np.zeros((0, len(TTH.classes)), np.float32), np.zeros(n, np.int64))
    return metrics.Events(sample=np.full(n, "tth"), event=np.arange(n), category=np.asarray(category),
                          weight_pb=np.ones(n), n_jets=np.asarray(n_jets), truth=truth, assignment=assignment,
                          valid=np.ones(n, bool) if valid is None else np.asarray(valid),
                          score=np.zeros(n) if score is None else np.asarray(score, float),
                          probabilities=probabilities, topology=TTH)


def known_example() -> metrics.Events:
    """0: all right; 1: a top's b given to the Higgs (that top and the Higgs wrong); 2: right up
    to t <-> tbar and the Higgs's b <-> b; 3 (9 jets): the tops right, the Higgs's second b an
    unassociated jet; 4 (unmatched): the Higgs's second b unmatched, the tops right up to q <-> q';
    5: background."""
    truth = [TRUTH, TRUTH, TRUTH, TRUTH, [0, 1, 2, 3, 4, 5, 6, -1], [-1] * 8]
    assignment = [TRUTH, [6, 1, 2, 3, 4, 5, 0, 7], [3, 4, 5, 0, 1, 2, 7, 6], [0, 1, 2, 3, 4, 5, 6, 8],
                  [0, 2, 1, 3, 4, 5, 6, 7], TRUTH]
    return events_of(truth, assignment, [MATCHED] * 4 + [UNMATCHED, BACKGROUND], [8, 8, 8, 9, 8, 8])


def test_metrics_on_a_known_example():
    events = known_example()
    assert events.correct.tolist() == [True, False, True, False, False, False]  # only a complete truth is
    reconstructable, found = metrics.particles_correct(events.assignment, events.truth, TTH)
    assert reconstructable[:5].tolist() == [[True] * 3] * 4 + [[True, True, False]]
    assert found[:5].tolist() == [[True, True, True], [False, True, False], [True, True, True], [True, True, False],
                                  [True, True, False]]
    bins = metrics.correct_by_njets(events)
    assert list(bins) == ["inclusive", "8", "9", "10", ">= 11"]
    assert [bins[k]["events"] for k in bins] == [4, 3, 1, 0, 0]
    assert bins["inclusive"]["fraction"] == 0.5 and bins["8"]["fraction"] == pytest.approx(2 / 3)
    assert bins["9"]["fraction"] == 0.0 and np.isnan(bins["10"]["fraction"])

    rows = {r["n_jets"]: r for r in metrics.spanet_table(events)}
    assert list(rows) == ["8", "9", ">= 10", "all"]  # the talk's t tbar H rows
    every = rows["all"]
    assert every["all_events"] == pytest.approx({"event_fraction": 1.0, "event_efficiency": 3 / 5,
                                                 "top_efficiency": 9 / 10, "higgs_efficiency": 2 / 4, "events": 5})
    assert every["complete_events"] == pytest.approx({"event_fraction": 4 / 5, "event_efficiency": 2 / 4,
                                                      "top_efficiency": 7 / 8, "higgs_efficiency": 2 / 4, "events": 4})
    assert rows["8"]["all_events"] == pytest.approx({"event_fraction": 4 / 5, "event_efficiency": 3 / 4,
                                                     "top_efficiency": 7 / 8, "higgs_efficiency": 2 / 3, "events": 4})
    assert rows["9"]["complete_events"]["higgs_efficiency"] == 0.0 and rows["9"]["complete_events"]["top_efficiency"] == 1
    assert rows[">= 10"]["all_events"]["events"] == 0


def test_correct_fraction_by_number_of_btags_on_the_known_example():
    """The matched events (the first four; correct, wrong, correct, wrong) counted by their
    b-tagged jets, 0 to 3 and >= 4 for the four b quarks of t tbar H; the unmatched and background
    events stay out, and tag counts no matched event has are left out."""
    events = known_example()
    bins = metrics.correct_by_nbtags(events, np.array([4, 2, 3, 5, 1, 0]))
    assert list(bins) == ["2", "3", ">= 4"]
    assert [bins[k]["events"] for k in bins] == [1, 1, 2]
    assert [bins[k]["fraction"] for k in bins] == [0.0, 1.0, 0.5]
    assert bins[">= 4"] == metrics.correct_in(events, {">= 4": np.array([True, False, False, True, False, False])})[">= 4"]

    result = table_result()
    for entry in result["methods"].values():
        entry["correct_by_nbtags"] = bins
    markdown = render_table(result, "md", TTH, NOT_RUN, "tth")
    caption = "**Correct assignments on matched tth by number of b-tagged jets (%, 68 % interval)**"
    assert caption in markdown and markdown.index(caption) < markdown.index("**SPANet-style efficiencies on tth**")
    lines = markdown.split(caption)[1].strip().splitlines()
    assert lines[0] == "| method | 2 b-tags | 3 b-tags | >= 4 b-tags |"
    assert lines[2].startswith("| SAJA (saja) | 0.0 +") and "| 100.0 +0.0 -" in lines[2] and "| 50.0 +" in lines[2]
    assert "b-tagged jets" not in render_table(table_result(), "md", TTH, NOT_RUN, "tth")


def random_events(rng, n: int = 400) -> metrics.Events:
    """Matched, unmatched and background events with random truths (some slots unmatched), each
    assignment the truth (40 %) or random jets, and random per-jet class probabilities."""
    n_jets = rng.integers(8, 13, n)
    truth = np.array([rng.permutation(int(k))[:8] for k in n_jets])
    truth[rng.uniform(size=n) < 0.2, rng.integers(0, 8)] = -1
    guesses = np.array([rng.permutation(int(k))[:8] for k in n_jets])
    assignment = np.where(rng.uniform(size=(n, 1)) < 0.4, np.where(truth >= 0, truth, guesses), guesses)
    p = rng.dirichlet(np.ones(len(TTH.classes)), size=int(n_jets.sum())).astype(np.float32)
    return events_of(truth, assignment, rng.integers(0, 3, n), n_jets, ak.unflatten(p, n_jets),
                     rng.uniform(size=n), rng.uniform(size=n) < 0.8)


def every_metric(events: metrics.Events) -> tuple[str, np.ndarray]:
    """The JSON of the counting metrics and the confusion matrix."""
    text = json.dumps([f(events) for f in (metrics.correct_by_njets, metrics.spanet_table, metrics.performance_curve)])
    return text, metrics.confusion_matrix(events)


@pytest.mark.parametrize("swap", SWAPS)
def test_every_metric_is_blind_to_each_symmetry(swap):
    """A method that labels the particles or their interchangeable partons the other way round
    (and, for t <-> tbar, its jet classes) scores the same; swapping slots that are not
    interchangeable (a top's b for a Higgs b) does not."""
    events = random_events(np.random.default_rng(7))
    classes = np.array(TTH.class_permutations[1 if swap == "t <-> tbar" else 0])
    swapped = metrics.Events(**{**{k: getattr(events, k) for k in metrics.Events.columns()},
                                "assignment": events.assignment[:, SWAPS[swap]],
                                "probabilities": events.probabilities[:, :, np.argsort(classes)]}, topology=TTH)
    text, confusion = every_metric(events)
    swapped_text, swapped_confusion = every_metric(swapped)
    assert swapped_text == text
    np.testing.assert_allclose(swapped_confusion, confusion)
    other = events.assignment[:, [6, 1, 2, 3, 4, 5, 0, 7]]
    assert every_metric(metrics.Events(**{**events.__dict__, "assignment": other}))[0] != text


def test_events_are_read_as_slots_of_their_topology():
    table = ak.Array({"sample": ["tth"] * 2, "event": [0, 1], "category": [0, 0], "weight_pb": [1.0, 1.0],
                      "n_jets": [8, 9], "truth": [TRUTH, TRUTH], "assignment": [TRUTH[::-1], SWAPS["t <-> tbar"]],
                      "valid": [True, True], "score": [0.0, 1.0], "probabilities": [[], []]})
    events = metrics.Events.from_table(table, TTH)
    assert events.truth.shape == events.assignment.shape == (2, 8)
    assert events.correct.tolist() == [False, True]


def exact_tth(rng, top_mass: float = 172.5, w_mass: float = 80.4, higgs_mass: float = 125.0) -> np.ndarray:
    """(8, 4) four-vectors in slot order of an exact t tbar H decay with the given masses."""
    partons = []
    for _ in range(2):
        top = four_vectors(rng.uniform(50, 300), rng.uniform(-1.5, 1.5), rng.uniform(-3, 3), top_mass)
        b, w = two_body(top, 4.8, w_mass, rng)
        partons += [b, *two_body(w, 0.0, 0.0, rng)]
    higgs = four_vectors(rng.uniform(50, 300), rng.uniform(-1.5, 1.5), rng.uniform(-3, 3), higgs_mass)
    return np.array([*partons, *two_body(higgs, 4.8, 4.8, rng)])


def kinematics(p4: np.ndarray) -> dict[str, np.ndarray]:
    """pt, eta, phi, mass of (..., 4) px, py, pz, E."""
    pt = np.hypot(p4[..., 0], p4[..., 1])
    return {"pt": pt, "eta": np.arcsinh(p4[..., 2] / pt), "phi": np.arctan2(p4[..., 1], p4[..., 0]),
            "mass": invariant_mass(p4)}


def test_the_tth_run_has_the_chi2_with_and_without_btags():
    """config/tth.yaml's `btag_aware: both`: each N gives the b-tag-aware chi2_<N> and the talk's
    eq. 1 as written, chi2_<N>_nobtag, labelled apart in the tables; true and false give one of
    them; any other value is refused by the schema, naming the key and the allowed values."""
    from analysis import config as configlib

    data = configlib.read_yaml(ROOT / "config" / "tth.yaml")
    cfg = configlib.from_dict(copy.deepcopy(data))
    baselines = cfg.baseline_methods()
    assert list(baselines) == ["chi2_8", "chi2_9", "chi2_8_nobtag", "chi2_9_nobtag"]
    assert [(m.kind, m.n_jets, m.btag_aware) for m in baselines.values()] == \
        [("chi2", 8, True), ("chi2", 9, True), ("chi2", 8, False), ("chi2", 9, False)]
    assert cfg.method_label("chi2_9") == r"$\chi^2$, 9 jets"
    assert cfg.method_label("chi2_9_nobtag") == r"$\chi^2$, 9 jets, no b-tags"
    for value, methods in ((True, ["chi2_8", "chi2_9"]), (False, ["chi2_8_nobtag", "chi2_9_nobtag"])):
        edited = copy.deepcopy(data)
        edited["baselines"]["chi2"]["btag_aware"] = value
        assert list(configlib.from_dict(edited).baseline_methods()) == methods
    edited = copy.deepcopy(data)
    edited["baselines"]["chi2"]["btag_aware"] = "sometimes"
    with pytest.raises(configlib.ConfigError, match=r"btag_aware.*sometimes"):
        configlib.from_dict(edited)


def test_chi2_widths_fit_the_generated_higgs_width_and_the_adapter_uses_it():
    """Matched events whose top, W and Higgs masses are Gaussian (15, 8 and 12 GeV wide), jets in
    a shuffled order: the fit finds each width, and the chi^2 built from that calibration on the
    t tbar H topology assigns exact t tbar H decays right."""
    rng = np.random.default_rng(3)
    n, widths = 3000, {"top": 15.0, "w": 8.0, "higgs": 12.0}
    p4, targets = [], []
    for _ in range(n):
        order = rng.permutation(9)
        jets = np.array([*exact_tth(rng, rng.normal(172.5, widths["top"]), rng.normal(80.4, widths["w"]),
                                    rng.normal(125.0, widths["higgs"])), four_vectors(30.0, 0.1, 0.2, 4.0)])
        p4.append(jets[order])
        targets.append([int(np.flatnonzero(order == k)[0]) for k in range(8)])
    p4, targets = np.array(p4), np.array(targets)
    w, top = cascade_masses(p4, targets, TTH.cascade_slots)
    higgs = pair_masses(p4, targets, tuple(p.pair for p in TTH.pairs))
    fitted = fit_widths(top.ravel(), w.ravel(), topology_settings(TTH), TTH, higgs)
    assert fitted["n_events"] == n and fitted["method_pairs"] == {"h": "Gaussian fit"}
    assert fitted["sigma_pairs"]["h"] == pytest.approx(widths["higgs"], rel=0.06)
    assert fitted["sigma_top"] == pytest.approx(widths["top"], rel=0.06)
    assert fitted["sigma_w"] == pytest.approx(widths["w"], rel=0.06)
    with pytest.raises(ValueError, match="two-body decays.*'h'.*m_pairs"):
        fit_widths(top.ravel(), w.ravel(), topology_settings(TTH), TTH)
    ttbar = fit_widths(top.ravel(), w.ravel(), topology_settings(TOPOLOGY), TOPOLOGY)
    assert set(ttbar) == {"sigma_top", "sigma_w", "method_top", "method_w", "n_events"}  # as before t tbar H

    cfg = SimpleNamespace(topology=TTH)
    assign, settings = ADAPTER.assigner(cfg, json.loads(json.dumps(fitted)), 9, True)
    assert settings["sigma_pairs"] == (fitted["sigma_pairs"]["h"],) and settings["m_top"] == 172.5
    exact = [exact_tth(rng) for _ in range(20)]
    orders = [rng.permutation(9) for _ in exact]
    jets = np.array([np.array([*e, four_vectors(40.0, 0.3, 1.0, 5.0)])[o] for e, o in zip(exact, orders, strict=True)])
    columns = kinematics(jets)
    columns["btag"] = np.array([np.isin(o, TTH.b_slots) for o in orders]).astype(int)
    slots, chi2 = assign(columns, np.full(len(jets), 9))
    truth = np.array([[int(np.flatnonzero(o == k)[0]) for k in range(8)] for o in orders])
    assert np.allclose(chi2, 0.0, atol=1e-6) and assignments.correct(slots, truth, TTH).all()
    with pytest.raises(ValueError, match=r"no mass width for the two-body decays \['h'\]"):
        ADAPTER.assigner(cfg, {k: v for k, v in fitted.items() if k != "sigma_pairs"}, 9, True)


def test_the_higgs_candidate_of_exact_partons_is_at_125_gev():
    rng = np.random.default_rng(5)
    p4 = np.array([exact_tth(rng) for _ in range(10)])
    assert list(reconstruction.mass_candidates(TTH)) == ["w", "top", "higgs"]
    assert list(reconstruction.mass_candidates(TOPOLOGY)) == ["w", "top"]
    masses = reconstruction.candidate_masses(kinematics(p4), np.tile(TRUTH, (10, 1)), TTH)
    np.testing.assert_allclose(masses["higgs"], 125.0, rtol=1e-9)
    np.testing.assert_allclose(masses["top"], 172.5, rtol=1e-9)
    np.testing.assert_allclose(masses["w"], 80.4, rtol=1e-9)
    events = events_of(np.tile(TRUTH, (10, 1)), np.tile(TRUTH, (10, 1)), np.full(10, MATCHED), np.full(10, 8))
    histograms = reconstruction.mass_histograms(events, kinematics(p4), np.ones(10), cut=np.inf)
    higgs = histograms["higgs"][:, "correct"]
    edges, width = higgs.axes[0].edges, higgs.axes[0].widths[0]
    filled = higgs.values() > 0  # 125 GeV is a bin edge: rounding puts a candidate on either side
    assert higgs.values().sum() == 10 and (np.abs(0.5 * (edges[:-1] + edges[1:])[filled] - 125.0) < width).all()
    assert histograms["w"][:, "correct"].values().sum() == histograms["top"][:, "correct"].values().sum() == 20


def table_result() -> dict:
    """metrics.json's methods part for the known example, as two methods."""
    events = known_example()
    entry = {"correct_by_njets": metrics.correct_by_njets(events), "spanet_table": metrics.spanet_table(events)}
    return {"methods": {"saja": entry, "chi2_9": entry},
            "labels": {"methods": {"saja": "SAJA", "chi2_9": r"$\chi^2$, 9 jets"}}}


def test_tables_show_the_higgs_efficiency_and_the_baselines_not_run():
    markdown = render_table(table_result(), "md", TTH, NOT_RUN, "tth")
    assert "**Correct assignments on matched tth (%" in markdown and "**SPANet-style efficiencies on tth**" in markdown
    assert "| method | all | N_jets 8 | N_jets 9 | N_jets 10 | N_jets >= 11 |" in markdown
    assert ("| method | N_jets | all event fraction | all event eff. | all top eff. | all higgs eff. | "
            "complete event fraction | complete event eff. | complete top eff. | complete higgs eff. |") in markdown
    assert "| SAJA (saja) | all | 1.000 | 0.600 | 0.900 | 0.500 | 0.800 | 0.500 | 0.875 | 0.500 |" in markdown
    assert markdown.endswith("\n\nKLFitter-style: not run (KLFitter has no likelihood for t tbar H, so neither has "
                             "this fit)\n")
    latex = render_table(table_result(), "tex", TTH, {"chi2": "a reason_with specials"}, "tth")
    assert latex.endswith("\n\nchi\\^{}2: not run (a reason\\_with specials)\n")
    assert "not run" not in render_table(table_result(), "md", TTH, {}, "tth")


def test_the_btag_table_is_the_talks_table_on_events_with_a_tag_per_b_quark():
    """The SPANet talk evaluates t tbar H on events with >= 4 b-tagged jets: the slice keeps the
    events with a tag per b quark of the topology (4 here, 2 for t tbar) and tabulates them alone."""
    from analysis.evaluation.summary import btag_table, method_metrics

    events = known_example()
    n_btags = np.array([4, 3, 5, 2, 4, 6])
    sliced = btag_table(events, n_btags)
    assert sliced["btag_min"] == 4 and len(topology.default().b_slots) == 2
    kept = events.select(np.array([True, False, True, False, True, True]))
    assert json.dumps(sliced["rows"]) == json.dumps(metrics.spanet_table(kept))  # NaN where a row is empty
    every = {r["n_jets"]: r for r in sliced["rows"]}["all"]
    assert every["complete_events"] == pytest.approx({"event_fraction": 2 / 3, "event_efficiency": 1.0,
                                                      "top_efficiency": 1.0, "higgs_efficiency": 1.0, "events": 2})
    assert every["all_events"] == pytest.approx({"event_fraction": 1.0, "event_efficiency": 1.0, "top_efficiency": 1.0,
                                                 "higgs_efficiency": 1.0, "events": 3})  # event 4: its tops
    entry = method_metrics(events, "chi2", ["tth"], n_btags)
    assert json.dumps(entry["spanet_table_btag"]) == json.dumps(sliced) and "spanet_table_btag" not in method_metrics(events, "chi2", ["tth"])

    result = table_result()
    for entry in result["methods"].values():
        entry["spanet_table_btag"] = sliced
    markdown = render_table(result, "md", TTH, {}, "tth")
    caption = "**SPANet-style efficiencies on tth with >= 4 b-tagged jets (the SPANet talk's t tbar H evaluation)**"
    assert caption in markdown
    assert "| SAJA (saja) | all | 1.000 | 1.000 | 1.000 | 1.000 | 0.667 | 1.000 | 1.000 | 1.000 |" in markdown.split(caption)[1]
    assert caption not in render_table(table_result(), "md", TTH, {}, "tth")


def test_figures_name_the_topologys_classes_slots_and_resonances(drawn):
    paper, figures = drawn
    rng = np.random.default_rng(6)
    p4 = np.array([exact_tth(rng) for _ in range(10)])
    events = events_of(np.tile(TRUTH, (10, 1)), np.tile(TRUTH, (10, 1)), np.full(10, MATCHED), np.full(10, 8))
    histograms = reconstruction.mass_histograms(events, kinematics(p4), np.ones(10), cut=np.inf)
    reconstructed = {"method": "chi2_9", "score_cut": 1.0, "unit_weight_samples": [],
                     **{name: {"edges": h.axes[0].edges.tolist(),
                               **{g: h[:, g].values(flow=True).tolist() for g in reconstruction.GROUPS}}
                        for name, h in histograms.items()}}
    result = {**table_result(), "method_order": ["saja", "chi2_9"], "luminosity_fb": 138.0,
              "reconstruction": reconstructed}
    result["methods"]["saja"]["confusion"] = np.eye(len(TTH.classes)).tolist()
    paper.fig08_masses(result, "fig08", topology=TTH)
    panels = figures["fig08"].axes
    assert [ax.get_xlabel() for ax in panels] == [r"$m_{jj}$ [GeV]", r"$m_{jjj}$ [GeV]", r"$m_{jj}$ [GeV]"]
    assert [ax.lines[-1].get_xdata()[0] for ax in panels] == [80.4, 172.5, 125.0]
    assert [ax.get_yscale() for ax in panels] == ["linear"] * 3
    heavy = copy.deepcopy(result)
    for h in heavy["reconstruction"].values():
        if isinstance(h, dict):
            h["background"] = [1e5 * value for value in h["correct"]]  # a QCD event: 10^5 candidates at the luminosity
    paper.fig08_masses(heavy, "fig08_heavy", topology=TTH)
    assert [ax.get_yscale() for ax in figures["fig08_heavy"].axes] == ["log"] * 3  # the signal stays visible
    legend = [t.get_text() for t in panels[0].get_legend().get_texts()]
    assert sorted(legend) == ["QCD multijet", r"correct $t\bar{t}H$", r"unmatched $t\bar{t}H$", r"wrong $t\bar{t}H$"]
    result["methods"]["saja"].update(network=True, performance_curve={"correct": [0.5], "wrong": [0.1],
                                                                      "unmatched_rejection": [0.5],
                                                                      "background_rejection": [0.9]})
    result["methods"]["chi2_9"].update(network=False, performance_curve=result["methods"]["saja"]["performance_curve"])
    paper.fig05_performance(result, "fig05", topology=TTH)
    assert [ax.get_ylabel() for ax in figures["fig05"].axes] == [r"1 - wrong fraction (matched $t\bar{t}H$)",
                                                                 r"unmatched $t\bar{t}H$ rejection", "QCD multijet rejection"]
    paper.fig09_confusion(result, "fig09", topology=TTH)
    ticks = [t.get_text() for t in figures["fig09"].axes[0].get_xticklabels()]
    assert ticks == [c.latex for c in TTH.classes] and "$H$ jet" in ticks
    attention = {"saja": {"model": "saja", "label": "SAJA", "events": 3, "blocks": [np.eye(9).tolist()]}}
    paper.fig12_attention(attention, "fig12", topology=TTH)
    ticks = [t.get_text() for t in figures["fig12"].axes[0].get_yticklabels()]
    assert ticks == [*(s.latex for s in TTH.slots), "other"]
    paper.fig07_correct_vs_njets(result, "fig07", topology=TTH)
    ticks = [t.get_text() for t in figures["fig07"].axes[0].get_xticklabels()]
    assert ticks == ["8", "9", "10", r"$\geq$11"]
    paper.efficiency_table_figure(result, "table", topology=TTH)
    table = figures["table"].axes[0].tables[0]
    assert [table[0, k].get_text().get_text() for k in range(10)][2:6] == ["all: event frac.", "event eff.",
                                                                           "top eff.", "higgs eff."]
    figures["table"].canvas.draw()  # the table sizes its columns when drawn
    renderer = figures["table"].canvas.get_renderer()  # every header fits its cell (equal widths clipped one)
    assert all(table[0, k].get_text().get_window_extent(renderer).width <= table[0, k].get_window_extent(renderer).width
               for k in range(10))


def test_the_process_is_named_from_the_topologys_particles():
    assert TTH.process_latex == r"$t\bar{t}H$" and TOPOLOGY.process_latex == r"$t\bar{t}$"


def test_every_figure_that_takes_the_topology_says_so():
    """The `figure` rule passes the run's topology exactly to the draw functions that take one."""
    import inspect

    from analysis.plotting.figures import FIGURES

    for name, figure in FIGURES.items():
        assert ("topology" in inspect.signature(figure.function()).parameters) == figure.topology, name
