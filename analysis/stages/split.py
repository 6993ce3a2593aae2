"""The rules of workflow/rules/split.smk: `split`, the training sample's matched events -> train /
val / test HDF5 files of that sample alone and SPANet's event_info.yaml; `test_set`, the test file
every method is applied to (the training sample's test events and every other sample whole).
Training reads only `split`'s files, so it starts as soon as the training sample exists."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
from analysis.topology import BACKGROUND, CATEGORIES, MATCHED


@dataclass
class TrainingSplit:
    """The training sample cut into train / val / test tables, as both rules of split.smk build it."""

    samples: list[str]
    tables: dict[str, Table]
    scaling: dict[str, tuple[float, float]]
    n_jets: int
    shapes: bool
    inputs: list[str]
    h5_report: dict


def training_split(cfg: Config, matched: Sequence[str | Path], shapes: bool | None = None) -> TrainingSplit:
    """The training sample's events (`matched`: its matched parquet file, none for a SPANet-format
    training sample) split by event hash (or file roles), padded to the widest of its events (at
    most `datasets.max_jets`), with the min-max scaling fitted on its train set. `shapes=None` keeps
    the jet shapes when its jets have them; the test set of every sample passes False when some
    other sample lacks them. Only the training sample is read, so training waits for no other
    sample's generation."""
    training = cfg.datasets.training_sample
    samples = list(cfg.samples)
    spec = cfg.spanet_samples().get(training)
    if spec is not None:
        h5_events = spanet_h5.read(spec.paths(), cfg.topology)
        n_jets = min(cfg.datasets.max_jets, int(h5_events.counts.max(initial=len(cfg.topology.slots))))
        table = spanet_table(h5_events, samples.index(training), n_jets, _weight_pb(spec, len(h5_events)),
                             cfg.topology)
        if not (table.extra["category"] == MATCHED).any():
            raise DatasetError(f"sample {training!r} ({[str(p) for p in h5_events.paths]}): no event has all "
                               f"{len(cfg.topology.slots)} targets set ({', '.join(spanet_h5.target_paths(cfg.topology))} "
                               ">= 0), so there is nothing to train on; choose another datasets.training_sample")
        shapes, inputs, report = False, [str(p) for p in h5_events.paths], {training: h5_events.report}
    else:
        (path,) = matched
        events = ak.from_parquet(path)
        _check_training_sample(training, events, path)
        n_jets = min(cfg.datasets.max_jets,
                     int(np.max(ak.to_numpy(ak.num(events.jets)), initial=len(cfg.topology.slots))))
        has_shapes = set(SHAPES) <= set(events.jets.fields)
        shapes = has_shapes if shapes is None else shapes and has_shapes
        table = build_table(events, samples.index(training), n_jets, shapes)
        h5_events, inputs, report = None, [str(path)], {}
    which = _training_sets(cfg, table, h5_events)
    tables = {name: select(table, which == i) for i, name in enumerate(SETS)}
    if not (tables["train"].extra["category"] == MATCHED).any():
        raise DatasetError(
            f"sample {training!r}: no fully matched event landed in the training set. Generate more events "
            f"(samples.{training}.events) or use larger split fractions (datasets.fractions.train)."
        )
    return TrainingSplit(samples, tables, fit_scaling(tables["train"]), n_jets, shapes, inputs, report)


def run_split(cfg: Config, input: Files, output: Files, wildcards: Files) -> dict:
    """`input["matched"]`: the training sample's matched parquet file (none for a SPANet-format
    training sample, whose HDF5 files are read from the config) -> `output["train"]`, `["val"]`,
    `["test_nominal"]` (its test events alone: what SPANet's own evaluation reads) and
    `output["event_info"]`."""
    outputs = {name: output[name] for name in ("train", "val", "test_nominal")}
    with stage_run(cfg.tag, "split", cfg.stage_config("split"), [*outputs.values(), output["event_info"]]) as run:
        split = training_split(cfg, list(input["matched"]))
        for path, table in zip(outputs.values(), split.tables.values(), strict=True):
            write_h5(path, table, split.scaling, split.samples, cfg.topology)
        features = [k for k in split.tables["train"].inputs if k != "MASK"]
        write_text(output["event_info"], yaml.safe_dump(cfg.topology.event_file(features), sort_keys=False))
        summary = {
            "samples": split.samples, "training_sample": cfg.datasets.training_sample, "max_jets": split.n_jets,
            "features": features, "jet_shapes": split.shapes, "scaling": split.scaling,
            "events": {name: _census(t, split.samples) for name, t in zip(outputs, split.tables.values(), strict=True)},
            "matched_lost_to_max_jets": int(sum(t.extra["truncated_matched"].sum() for t in split.tables.values())),
            "spanet_h5": split.h5_report,
        }
        run.inputs = split.inputs
        run.extra = summary
    return summary


def run_test_set(cfg: Config, input: Files, output: Files, wildcards: Files) -> dict:
    """`input["matched"]` (the matched parquet files of `cfg.matched_samples()`, in that order) and
    the HDF5 files of the SPANet-format samples -> `output["test"]`: the training sample's test
    events (as `split` cuts them) and every other sample whole, padded and scaled as the training
    sample's sets, so every method is applied to one file."""
    matched = dict(zip(cfg.matched_samples(), input["matched"], strict=True))
    training = cfg.datasets.training_sample
    with stage_run(cfg.tag, "test_set", cfg.stage_config("test_set"), [output["test"]]) as run:
        others = {name: ak.from_parquet(path) for name, path in matched.items() if name != training}
        shapes = all(set(SHAPES) <= set(ev.jets.fields) for ev in others.values())
        split = training_split(cfg, [matched[training]] if training in matched else [], shapes)
        h5_events = {name: spanet_h5.read(spec.paths(), cfg.topology) for name, spec in cfg.spanet_samples().items()
                     if name != training}
        parts = [split.tables["test"]]
        for name in split.samples:
            if name in others and len(others[name]):
                parts.append(build_table(others[name], split.samples.index(name), split.n_jets, split.shapes))
            elif name in h5_events and len(h5_events[name]):
                weight_pb = _weight_pb(cfg.spanet_samples()[name], len(h5_events[name]))
                parts.append(spanet_table(h5_events[name], split.samples.index(name), split.n_jets, weight_pb,
                                          cfg.topology))
        test = concatenate(parts)
        write_h5(output["test"], test, split.scaling, split.samples, cfg.topology)
        summary = {"events": _census(test, split.samples), "jet_shapes": split.shapes,
                   "matched_lost_to_max_jets": int(test.extra["truncated_matched"].sum()),
                   "spanet_h5": {name: ev.report for name, ev in h5_events.items()}}
        run.inputs = [*split.inputs, *(str(matched[n]) for n in others),
                      *(str(p) for ev in h5_events.values() for p in ev.paths)]
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
