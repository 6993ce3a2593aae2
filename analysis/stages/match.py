"""The rule of workflow/rules/match.smk: `match`, a sample's skim records with their truth labels
(parquet, one row group at a time) and its matching tables (Figs. 2-4)."""
from __future__ import annotations

import warnings

import awkward as ak
import numpy as np

from analysis.config import Config
from analysis.core.provenance import atomic_output, stage_run, write_json
from analysis.matching import MatchingTables, Pairs, categories, jet_labels, positions
from analysis.stages._common import Files
from analysis.topology import CATEGORIES, MATCHED, UNMATCHED


def run_match(cfg: Config, input: Files, output: Files, wildcards: Files) -> dict:
    """`input["skim"]` records + parton_jet, jet_label, category -> `output["matched"]`, and the
    tables -> `output["tables"]`."""
    sample, skim_path = wildcards["sample"], input["skim"]
    with stage_run(cfg.tag, "match", cfg.stage_config("match", sample), [output["matched"], output["tables"]],
                   inputs=[skim_path]) as run:
        n_groups = ak.metadata_from_parquet(skim_path)["num_row_groups"]
        topology = cfg.topology
        tables = MatchingTables(cfg.matching.dr_scan, len(topology.slots))
        counts = np.zeros(len(CATEGORIES), dtype=np.int64)

        def matched_groups():
            for group in range(n_groups):
                events = ak.from_parquet(skim_path, row_groups=[group])
                jets, partons = positions(events)
                pairs = Pairs.of(jets, partons, len(topology.slots))
                parton_jet = pairs.match(cfg.matching.dr_max)
                category = categories(partons.counts, parton_jet)
                tables.fill(pairs, jets.counts, parton_jet, category)
                counts[:] += np.bincount(category, minlength=len(CATEGORIES))
                events["parton_jet"] = parton_jet.astype(np.int32)
                events["jet_label"] = jet_labels(parton_jet, jets.counts, topology)
                events["category"] = category
                yield events

        with atomic_output(output["matched"]) as tmp:
            ak.to_parquet_row_groups(matched_groups(), tmp)
        summary = {"sample": sample, "dr_max": cfg.matching.dr_max,
                   "events": dict(zip(CATEGORIES, counts.tolist(), strict=True)),
                   "labels": list(topology.class_names), "categories": list(CATEGORIES),
                   "slots": list(topology.slot_names)}
        if counts[MATCHED] == 0 and counts[UNMATCHED] + counts[MATCHED] > 0:
            warnings.warn(f"sample {sample!r}: no event has all {len(topology.slots)} partons matched within Delta R < "
                          f"{cfg.matching.dr_max}", stacklevel=2)
        write_json(output["tables"], {**summary, **tables.as_dict()})
        run.extra = summary
    return summary
