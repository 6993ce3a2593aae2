"""The rule of workflow/rules/split.smk: `split`, the matched events of the Delphes samples and
the SPANet-format datasets -> train / val / test HDF5 files and SPANet's event_info.yaml."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import awkward as ak
import numpy as np
import yaml

from analysis import spanet_h5
from analysis.config import Config, SpanetSample
from analysis.core.provenance import stage_run, write_text
from analysis.datasets import (
    SETS,
    SHAPES,
    DatasetError,
    Table,
    assign_sets,
    build_table,
    concatenate,
    fit_scaling,
    select,
    spanet_table,
    split_fractions,
    write_h5,
)
from analysis.stages._common import Files
from analysis.topology import BACKGROUND, CATEGORIES, MATCHED, TOPOLOGY


def run_split(cfg: Config, input: Files, output: Files, wildcards: Files) -> dict:
    """`input["matched"]` (the matched parquet files of `cfg.matched_samples()`, in that order)
    and the HDF5 files of the SPANet-format samples (`cfg.spanet_samples()`) -> `output["train"]`,
    `["val"]`, `["test"]` (HDF5) and `output["event_info"]`."""
    matched = dict(zip(cfg.matched_samples(), input["matched"], strict=True))
    outputs = {name: output[name] for name in SETS}
    with stage_run(cfg.tag, "split", cfg.stage_config("split"), [*outputs.values(), output["event_info"]]) as run:
        training = cfg.datasets.training_sample
        samples = [name for name in cfg.samples if name in matched or name in cfg.spanet_samples()]
        events = {name: ak.from_parquet(matched[name]) for name in samples if name in matched}
        h5_events = {name: spanet_h5.read(spec.paths()) for name, spec in cfg.spanet_samples().items()}
        shapes = not h5_events and all(set(SHAPES) <= set(ev.jets.fields) for ev in events.values())
        if training in events:
            _check_training_sample(training, events[training], matched[training])
        fewest = len(TOPOLOGY.slots)  # an empty skim has no maximum
        counts = [int(np.max(ak.to_numpy(ak.num(ev.jets)), initial=fewest)) for ev in events.values()]
        counts += [int(ev.counts.max(initial=fewest)) for ev in h5_events.values()]
        n_jets = min(cfg.datasets.max_jets, max(counts))

        def table_of(name: str) -> Table:
            if name not in h5_events:
                return build_table(events[name], samples.index(name), n_jets, shapes)
            weight_pb = _weight_pb(cfg.spanet_samples()[name], len(h5_events[name]))
            return spanet_table(h5_events[name], samples.index(name), n_jets, weight_pb)

        table = table_of(training)
        if training in h5_events and not (table.extra["category"] == MATCHED).any():
            raise DatasetError(f"sample {training!r} ({[str(p) for p in h5_events[training].paths]}): no event has all "
                               "six targets set (TARGETS/t1|t2/{b, q1, q2} >= 0), so there is nothing to train on; "
                               "choose another datasets.training_sample")
        which = _training_sets(cfg, table, h5_events.get(training))
        sets = {name: [select(table, which == i)] for i, name in enumerate(SETS)}
        for name in samples:
            if name != training and len(h5_events[name] if name in h5_events else events[name]):
                sets["test"].append(table_of(name))
        tables = {name: concatenate(parts) for name, parts in sets.items()}
        if not (tables["train"].extra["category"] == MATCHED).any():
            raise DatasetError(
                f"sample {training!r}: no fully matched event landed in the training set. Generate more events "
                f"(samples.{training}.events) or use larger split fractions (datasets.fractions.train)."
            )
        scaling = fit_scaling(tables["train"])
        for name, table in tables.items():
            write_h5(outputs[name], table, scaling, samples)
        features = [k for k in tables["train"].inputs if k != "MASK"]
        write_text(output["event_info"], yaml.safe_dump(TOPOLOGY.event_file(features), sort_keys=False))
        summary = {
            "samples": samples, "training_sample": training, "max_jets": n_jets, "features": features,
            "jet_shapes": shapes, "scaling": scaling,
            "events": {name: _census(t, samples) for name, t in tables.items()},
            "matched_lost_to_max_jets": int(sum(t.extra["truncated_matched"].sum() for t in tables.values())),
            "spanet_h5": {name: ev.report for name, ev in h5_events.items()},
        }
        run.inputs = [*matched.values(), *(p for ev in h5_events.values() for p in ev.paths)]
        run.extra = summary
    return summary


def _weight_pb(sample: SpanetSample, n_events: int) -> float:
    """Cross-section weight of each event of a SPANet-format sample: its cross-section shared
    by its events, or 1 (unit weights) when the config gives none."""
    return sample.cross_section_pb / n_events if sample.cross_section_pb and n_events else 1.0


def _training_sets(cfg: Config, table: Table, h5_events: spanet_h5.Events | None) -> np.ndarray:
    """Set index (0 train, 1 val, 2 test) of each event of the training sample: by the event hash
    with `datasets.fractions`, or, for a SPANet-format sample with `roles`, by its file's role,
    the validation events hashed out of the train files (val / (train + val) of them) when no
    file has that role."""
    training = cfg.datasets.training_sample
    u = split_fractions(cfg.seed, training, table.extra["file"].astype(str), table.extra["event"])
    spec = cfg.samples[training]
    if not (isinstance(spec, SpanetSample) and spec.roles):
        return assign_sets(u, cfg.datasets.fractions)
    role_of = {path: SETS.index(role) for role, paths in spec.role_paths().items() for path in paths}
    which = np.array([role_of[p] for p in h5_events.paths], dtype=np.int8)[h5_events.file_index]
    if "val" not in spec.roles:
        train, val, _ = cfg.datasets.fractions
        which[(which == 0) & (u >= train / (train + val))] = SETS.index("val")
    return which


def _check_training_sample(name: str, events: ak.Array, path: str | Path) -> None:
    category = ak.to_numpy(events.category)
    if len(category) == 0:
        raise DatasetError(f"sample {name!r} ({path}): no event passed the selection, so there is nothing to "
                           f"train on. See its cutflow; generate more events or loosen the `selection:` cuts.")
    if not (category != BACKGROUND).any():
        raise DatasetError(f"sample {name!r} ({path}): no event has a t tbar -> b q q' b q q' decay chain in its "
                           "Particle record, so it cannot be the training sample (datasets.training_sample).")
    if not (category == MATCHED).any():
        raise DatasetError(f"sample {name!r} ({path}): no event has all six partons matched to jets "
                           "(matching.dr_max); generate more events or check the Particle record.")


def _census(table: Table, samples: Sequence[str]) -> dict:
    out = {}
    for index, sample in enumerate(samples):
        of_sample = table.extra["sample"] == index
        if of_sample.any():
            out[sample] = {c: int((of_sample & (table.extra["category"] == i)).sum()) for i, c in enumerate(CATEGORIES)}
    return out
