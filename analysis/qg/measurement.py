"""Tagger efficiencies and scale factors from dijet templates, per jet-pT bin (seed 004).

For one pT bin, the forward (F) and central (C) tagger-output histograms of the data are
unfolded into quark and gluon distributions two ways (analysis.qg.calibration):
* matrix method, with the quark fractions f_F, f_C of the MC;
* jet topics, with kappa(q, g), kappa(g, q) of the MC as the only MC input.
Working points are the tagger thresholds at which the MC (truth) quark efficiency is 50 % / 80 %;
the scale factors are SF_q = eps_q^data / eps_q^MC and SF_g = (1 - eps_g^data) / (1 - eps_g^MC),
with the method's data efficiency over the MC truth efficiency: a bias of the method itself stays
in the nominal value and is covered by the non-closure uncertainty.
Uncertainties: statistical (Poisson bootstrap of data and MC jets), MC non-closure (the method
applied to the MC mixtures against the MC truth) and, for topics, the kappa extraction (the
spread over the quantile binnings).
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from analysis.evaluation.metrics import effective_count
from analysis.qg import calibration as cal
from analysis.qg.samples import is_gluon, is_quark

METHODS = ("matrix", "topics")


@dataclass(frozen=True)
class Jets:
    """One sample's jets as seen by one tagger."""

    score: np.ndarray
    pt: np.ndarray
    forward: np.ndarray
    flavour: np.ndarray
    weight: np.ndarray
    event: np.ndarray | None = None
    """An event key (file index and event number): the bootstrap draws one Poisson weight per
    event, shared by its two jets (per jet when None)."""

    def select(self, keep: np.ndarray) -> Jets:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return replace(self, **{name: v[keep] for name, v in values.items() if v is not None})

    def resampled(self, rng: np.random.Generator) -> Jets:
        """A Poisson-bootstrap replica: every event's weight times a Poisson(1) draw."""
        if self.event is None:
            factor = rng.poisson(1.0, len(self.weight))
        else:
            events, index = np.unique(self.event, return_inverse=True)
            factor = rng.poisson(1.0, len(events))[index]
        return replace(self, weight=self.weight * factor)

    @property
    def has_truth(self) -> bool:
        return bool((self.flavour >= 0).all())


def templates(jets: Jets, edges: np.ndarray) -> dict[str, np.ndarray]:
    """Weighted tagger-output histograms: F and C (all jets), and per flavour q, g, qF, qC, gF, gC
    (jets with truth; none when the sample has no truth)."""
    def hist(keep: np.ndarray) -> np.ndarray:
        return np.histogram(np.clip(jets.score[keep], edges[0], edges[-1]), edges, weights=jets.weight[keep])[0]

    out = {"F": hist(jets.forward), "C": hist(~jets.forward)}
    if jets.has_truth:
        for name, flavour in (("q", is_quark(jets.flavour)), ("g", is_gluon(jets.flavour))):
            out[name] = hist(flavour)
            out[f"{name}F"], out[f"{name}C"] = hist(flavour & jets.forward), hist(flavour & ~jets.forward)
    return out


def quark_fractions(mc: dict[str, np.ndarray]) -> tuple[float, float]:
    """(f_F, f_C): quark share of the MC jets in each region (all have truth)."""
    return tuple(float(mc[f"q{r}"].sum() / (mc[f"q{r}"].sum() + mc[f"g{r}"].sum())) for r in ("F", "C"))


def extract(method: str, data: dict[str, np.ndarray], mc: dict[str, np.ndarray], n_groups: int
            ) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """(p_q, p_g, the method's constants) from the data's F and C templates."""
    if method == "matrix":
        f_forward, f_central = quark_fractions(mc)
        p_q, p_g = cal.matrix_method(data["F"], data["C"], f_forward, f_central)
        return p_q, p_g, {"f_forward": f_forward, "f_central": f_central}
    topic_q, topic_g, k_fc, k_cf = cal.jet_topics(data["F"], data["C"], n_groups)
    k_qg, k_gq = cal.kappa(mc["q"], mc["g"], n_groups), cal.kappa(mc["g"], mc["q"], n_groups)
    p_q, p_g = cal.correct_topics(topic_q, topic_g, k_qg, k_gq)
    return p_q, p_g, {"kappa_FC": k_fc, "kappa_CF": k_cf, "kappa_qg": k_qg, "kappa_gq": k_gq}


def efficiencies(p_q: np.ndarray, p_g: np.ndarray, edges: np.ndarray, threshold: float) -> tuple[float, float]:
    return cal.efficiency(p_q, edges, threshold), cal.efficiency(p_g, edges, threshold)


def scale_factors_at(data: dict, mc: dict, edges: np.ndarray, thresholds: list[float], n_groups: int
                     ) -> dict[str, np.ndarray]:
    """Method -> (working points, 2) array of (SF_q, SF_g) for these templates."""
    out = {}
    for method in METHODS:
        try:
            p_q, p_g, _ = extract(method, data, mc, n_groups)
        except ValueError:
            out[method] = np.full((len(thresholds), 2), np.nan)
            continue
        rows = []
        for threshold in thresholds:
            eps = efficiencies(p_q, p_g, edges, threshold)
            eps_mc = efficiencies(mc["q"], mc["g"], edges, threshold)
            rows.append(cal.scale_factors(eps[0], eps_mc[0], eps[1], eps_mc[1]))
        out[method] = np.array(rows)
    return out


def measure_bin(data: Jets, mc: Jets, edges: np.ndarray, working_points: tuple[float, ...],
                quantile_bins: tuple[int, ...], replicas: int, rng: np.random.Generator) -> dict:
    """Everything of one pT bin: templates, extracted distributions, efficiencies, scale factors
    with their uncertainties, and the known answer when the data has truth."""
    data_t, mc_t = templates(data, edges), templates(mc, edges)
    thresholds = [cal.working_point(mc_t["q"], edges, wp) for wp in working_points]
    nominal = scale_factors_at(data_t, mc_t, edges, thresholds, quantile_bins[0])
    closure = scale_factors_at(mc_t, mc_t, edges, thresholds, quantile_bins[0])
    kappa_variants = [scale_factors_at(data_t, mc_t, edges, thresholds, n)["topics"] for n in quantile_bins[1:]]
    boot = [scale_factors_at(templates(data.resampled(rng), edges), templates(mc.resampled(rng), edges),
                             edges, thresholds, quantile_bins[0]) for _ in range(replicas)]

    result = {"jets": {name: {"F": int(jets.forward.sum()), "C": int((~jets.forward).sum())}
                       for name, jets in (("data", data), ("mc", mc))},
              "effective_jets": {name: {"F": effective_count(jets.weight[jets.forward]),
                                        "C": effective_count(jets.weight[~jets.forward])}
                                 for name, jets in (("data", data), ("mc", mc))},
              "templates": {"data": _listed(data_t), "mc": _listed(mc_t)}, "methods": {}}
    for method in METHODS:
        try:
            p_q, p_g, constants = extract(method, data_t, mc_t, quantile_bins[0])
            mc_q, mc_g, _ = extract(method, mc_t, mc_t, quantile_bins[0])
        except ValueError as err:
            result["methods"][method] = {"failed": str(err)}
            continue
        replicas_sf = np.array([b[method] for b in boot])
        uncertainties = {
            "stat": np.nanstd(replicas_sf, axis=0, ddof=1),
            "nonclosure": np.abs(closure[method] - 1.0) * np.abs(nominal[method]),
        }
        if method == "topics" and kappa_variants:
            uncertainties["kappa"] = np.nanmax([np.abs(v - nominal["topics"]) for v in kappa_variants], axis=0)
        total = np.sqrt(sum(u**2 for u in uncertainties.values()))
        points = []
        for i, (wp, threshold) in enumerate(zip(working_points, thresholds, strict=True)):
            eps_q, eps_g = efficiencies(p_q, p_g, edges, threshold)
            point = {"quark_efficiency_mc": wp, "threshold": threshold, "eps_q": eps_q, "eps_g": eps_g,
                     "sf_q": float(nominal[method][i, 0]), "sf_g": float(nominal[method][i, 1]),
                     "sf_q_unc": {k: float(u[i, 0]) for k, u in {**uncertainties, "total": total}.items()},
                     "sf_g_unc": {k: float(u[i, 1]) for k, u in {**uncertainties, "total": total}.items()}}
            points.append(point)
        result["methods"][method] = {"p_q": p_q.tolist(), "p_g": p_g.tolist(), "mc_closure": {
            "p_q": mc_q.tolist(), "p_g": mc_g.tolist()}, "constants": constants, "working_points": points,
            "failed_replicas": int(np.isnan(replicas_sf[:, 0, 0]).sum())}

    result["mc"] = [dict(zip(("eps_q", "eps_g"), efficiencies(mc_t["q"], mc_t["g"], edges, t), strict=True))
                    for t in thresholds]
    if data.has_truth:
        truth = []
        for t, eps_mc in zip(thresholds, result["mc"], strict=True):
            eps_q, eps_g = efficiencies(data_t["q"], data_t["g"], edges, t)
            sf_q, sf_g = cal.scale_factors(eps_q, eps_mc["eps_q"], eps_g, eps_mc["eps_g"])
            truth.append({"eps_q": eps_q, "eps_g": eps_g, "sf_q": sf_q, "sf_g": sf_g})
        result["data_truth"] = truth
    return result


def _listed(hists: dict[str, np.ndarray]) -> dict[str, list[float]]:
    return {k: v.tolist() for k, v in hists.items()}


def roc(score: np.ndarray, quark: np.ndarray, weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(eps_q, eps_g) for every threshold, from the highest score down."""
    weight = np.ones(len(score)) if weight is None else weight
    order = np.argsort(-score, kind="stable")
    w_q, w_g = np.where(quark, weight, 0.0)[order], np.where(quark, 0.0, weight)[order]
    return np.concatenate([[0.0], np.cumsum(w_q) / w_q.sum()]), np.concatenate([[0.0], np.cumsum(w_g) / w_g.sum()])


def performance(score: np.ndarray, quark: np.ndarray, weight: np.ndarray | None = None) -> dict:
    """AUC (probability that a quark jet scores above a gluon jet) and the gluon rejection
    1 / eps_g at 50 % quark efficiency, with a thinned ROC curve for figures. Unweighted unless
    `weight` is given: the jets as selected, not cross-section weighted."""
    eps_q, eps_g = roc(score, quark, weight)
    auc = float(np.trapezoid(eps_q, eps_g))
    eps_g_at_half = float(np.interp(0.5, eps_q, eps_g))
    grid = np.linspace(0.0, 1.0, 101)
    return {"auc": auc, "gluon_rejection_at_50": 1.0 / eps_g_at_half if eps_g_at_half > 0 else float("inf"),
            "roc": {"eps_q": grid.tolist(), "eps_g": np.interp(grid, eps_q, eps_g).tolist()},
            "quark_jets": int(quark.sum()), "gluon_jets": int((~quark).sum())}
