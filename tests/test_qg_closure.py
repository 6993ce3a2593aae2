"""MC-as-data on generated dijets: two independent Pythia samples of the same physics, one as MC
and one as data, give scale factors of one within the uncertainties, for both methods."""
from __future__ import annotations

import numpy as np
import pytest

from analysis.events.generate import generate_chunk
from analysis.events.pythia import GeneratorSettings
from analysis.qg import samples
from analysis.qg.measurement import Jets, measure_bin

from .test_qg_samples import qg_config


def dijet_jets(tmp_path, reco, seed: int, cfg) -> Jets:
    path = tmp_path / f"dijets_{seed}.root"
    generate_chunk(GeneratorSettings(process="qcd", seed=seed, pthat_min=220.0), reco, n_events=2500,
                   first_event_number=0, output=path, detector_seed=seed + 1, constituents=True, progress=False)
    jets = samples.build(cfg, "dijet", [path])
    # a fixed tagger: fewer constituents = more quark-like (the strongest single q/g variable)
    score = 1.0 / (1.0 + jets["shape_multiplicity"] / 20.0)
    return Jets(score, jets["pt"], jets["forward"], jets["flavour"], jets["weight"], jets["event"])


@pytest.mark.slow
def test_mc_as_data_scale_factors_are_one(tmp_path, reco, qcd_file):
    cfg = qg_config([qcd_file], generated_events=2500)  # each dijet sample: 2500 unit-weight events
    mc, data = (dijet_jets(tmp_path, reco, seed, cfg) for seed in (101, 202))
    edges = np.unique(np.concatenate([[0.0], np.quantile(mc.score, np.linspace(0, 1, 13)[1:-1]), [1.0]]))
    result = measure_bin(data, mc, edges, (0.5, 0.8), (6, 4, 8), 30, np.random.default_rng(3))
    f_forward, f_central = result["methods"]["matrix"]["constants"].values()
    assert f_forward > f_central  # the forward jet is the more quark-like
    for method in ("matrix", "topics"):
        for point in result["methods"][method]["working_points"]:
            for flavour in ("q", "g"):
                pull = (point[f"sf_{flavour}"] - 1) / point[f"sf_{flavour}_unc"]["total"]
                assert abs(pull) < 3, (method, flavour, point)
