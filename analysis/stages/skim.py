"""The rule of workflow/rules/skim.smk: `skim`, a sample's selected events (parquet, written row
group by row group as the files are read) and its cutflow."""
from __future__ import annotations

import warnings
from collections.abc import Iterator

import awkward as ak
import numpy as np

from analysis.config import Config, FileSample, GeneratedSample
from analysis.core.keys import file_keys
from analysis.core.provenance import atomic_output, stage_run, write_json
from analysis.normalisation import file_sample_normalisation, weight_scales
from analysis.partons import PARTON_FIELDS
from analysis.selection import (
    JET_BRANCHES,
    OPTIONAL_JET_BRANCHES,
    Cutflow,
    SkimError,
    cut_names,
    inspect_layout,
    skim,
)
from analysis.stages._common import Files


def run_skim(cfg: Config, input: Files, output: Files, wildcards: Files) -> Cutflow:
    """Sample `wildcards["sample"]`'s files (`input["files"]`) -> `output["skim"]` (parquet) and
    `output["cutflow"]` (JSON), each with provenance."""
    sample = wildcards["sample"]
    files = [str(f) for f in input["files"]]
    with stage_run(cfg.tag, "skim", cfg.stage_config("skim", sample), [output["skim"], output["cutflow"]],
                   inputs=files) as run:
        if not files:
            raise SkimError(f"sample {sample!r}: no input files")
        layout = inspect_layout(files)
        if not layout.has_particles:
            warnings.warn(f"sample {sample!r}: no Particle branches ({', '.join(PARTON_FIELDS)}); its events "
                          "have no partons and count as background in the matching", stacklevel=2)
        cutflow = Cutflow(cut_names(cfg.cuts))
        spec = cfg.samples[sample]
        normalisation = file_sample_normalisation(spec, files) if isinstance(spec, FileSample) else None
        scales = ({f: normalisation.scale for f in files} if normalisation is not None else weight_scales(spec, files))
        keys = file_keys(files)
        steps = skim(files, scales, keys, cfg.cuts, cfg.read_step, cutflow, layout, cfg.topology, spec.btag_bit)
        chains = ChainCounter()
        with atomic_output(output["skim"]) as tmp:
            ak.to_parquet_row_groups(chains.count(_non_empty(steps)), tmp)
        selected = int(cutflow.events[-1])
        if selected == 0:
            warnings.warn(f"sample {sample!r}: no event passes the selection (cutflow in {output['cutflow']}); "
                          "the skim is empty", stacklevel=2)
        elif layout.has_particles and chains.events == 0 and not (isinstance(spec, GeneratedSample)
                                                                  and spec.process == "qcd"):
            warnings.warn(f"sample {sample!r}: the Particle record of none of its {selected} selected events yields "
                          f"a hadronic {cfg.topology.process_text} chain (t -> b W, W -> q q' through the M1/D1/D2 "
                          "links), so all of them count as background. Expected for a background sample; for a "
                          "signal sample the record lacks the decay links (e.g. Pythia 6 status-3 lines): "
                          "`ttjpa check-input` shows it", stacklevel=2)
        summary = {"sample": sample, "selected_events": selected, "empty": selected == 0,
                   "jet_features": [OPTIONAL_JET_BRANCHES.get(b, JET_BRANCHES.get(b)) for b in
                                    (*JET_BRANCHES, *layout.jet_extras)],
                   "jet_shapes": layout.has_shapes, "partons": layout.has_particles,
                   "events_with_ttbar_chain": chains.events, "btag_bit": spec.btag_bit,
                   "file_keys": keys}
        if normalisation is not None:
            summary["normalisation"] = normalisation.as_dict()
        write_json(output["cutflow"], {**summary, "cutflow": cutflow.table()})
        run.extra = summary
    return cutflow


class ChainCounter:
    """Counts the selected events whose record gave the six decay partons, as steps stream by."""

    def __init__(self):
        self.events = 0

    def count(self, steps: Iterator[ak.Array]) -> Iterator[ak.Array]:
        for step in steps:
            self.events += int(np.count_nonzero(ak.to_numpy(ak.num(step.partons)) > 0))
            yield step


def _non_empty(steps: Iterator[ak.Array]) -> Iterator[ak.Array]:
    """Row groups with events; one empty (but typed) group when nothing passes."""
    last = None
    wrote = False
    for step in steps:
        last = step
        if len(step):
            wrote = True
            yield step
    if not wrote and last is not None:
        yield last
