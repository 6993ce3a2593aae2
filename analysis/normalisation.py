"""Cross-section weights: the factor that turns a generator weight into picobarns.

An event's `weight_pb = Event.Weight * scale`, so that summing `weight_pb` over any selection
gives its cross-section and `luminosity * weight_pb` its expected yield. Generated samples take
the scale from their chunks' metadata (Pythia's cross-section and sum of weights, per pTHat
bin). User samples take `cross_section_pb` from the config and divide it by the sum of weights of
the generated sample:
- `sum_of_weights` given: that sum (any weights, filtered samples too);
- `generated_events` given: with unit weights, that number (the files may hold a filtered
  subset); with constant weights c, c times it; with varying weights (any scale or sign, as
  MC@NLO or FxFx write them) the files' own sum, which is right only when the files hold the
  whole generated sample, so a file set with fewer events than generated is refused.
For files holding the whole generated sample, the cutflow's first row is then the configured
cross-section, whatever the scale of the weights.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from analysis.config import FileSample, GeneratedSample
from analysis.core.provenance import meta_path, read_meta
from analysis.events.weights import WeightSummary, read_weights


class NormalisationError(ValueError):
    """A user sample whose generated sum of weights cannot be known; the message says what to set."""


@dataclass(frozen=True)
class Normalisation:
    """How a user sample's weights become picobarns."""

    scale: float          # pb per unit of generator weight
    denominator: float    # the generated sample's sum of weights
    rule: str             # which of the module docstring's cases applied
    weights: WeightSummary

    def as_dict(self) -> dict:
        return {"pb_per_unit_weight": self.scale, "generated_sum_of_weights": self.denominator, "rule": self.rule,
                "weights": self.weights.as_dict()}


def weight_scales(sample: GeneratedSample | FileSample, files: Sequence[str | Path]) -> dict[str, float]:
    """File -> pb per unit of generator weight."""
    if isinstance(sample, FileSample):
        scale = file_sample_normalisation(sample, files).scale
        return {str(f): scale for f in files}
    return _generated_scales(files)


def file_sample_normalisation(sample: FileSample, files: Sequence[str | Path]) -> Normalisation:
    """The normalisation of a user sample from its config and the weights in its files."""
    weights = read_weights(files)
    if sample.sum_of_weights is not None:
        return _normalisation(sample, sample.sum_of_weights, "sum_of_weights from the config", weights)
    generated = sample.generated_events
    if weights.events > generated:
        raise NormalisationError(
            f"sample {sample.name!r}: the files hold {weights.events} events but samples.{sample.name}.generated_events "
            f"is {generated}; give the number of events generated before any filter (or sum_of_weights)"
        )
    if weights.kind == "unit":
        return _normalisation(sample, float(generated), "unit weights: generated_events", weights)
    if weights.kind == "constant":
        return _normalisation(sample, weights.maximum * generated, "constant weights: weight x generated_events",
                              weights)
    if weights.events == generated:
        return _normalisation(sample, weights.total, "varying weights: the files hold every generated event, "
                              "their sum of weights", weights)
    raise NormalisationError(
        f"sample {sample.name!r}: the events carry varying generator weights ({weights.text()}) and the files hold "
        f"{weights.events} of the {generated} generated events (a filtered or incomplete sample), so the generated "
        f"sum of weights is unknown. Replace samples.{sample.name}.generated_events by sum_of_weights: the sum of "
        "Event.Weight over all generated events, before any filter (MadGraph's banner or the generator log has it)."
    )


def _normalisation(sample: FileSample, denominator: float, rule: str, weights: WeightSummary) -> Normalisation:
    if not denominator > 0:
        raise NormalisationError(
            f"sample {sample.name!r}: the generated sum of weights is {denominator:g} ({rule}); a cross-section "
            f"cannot be shared over it. Give samples.{sample.name}.sum_of_weights (positive) from the generator log."
        )
    return Normalisation(sample.cross_section_pb / denominator, denominator, rule, weights)


def _generated_scales(files: Sequence[str | Path]) -> dict[str, float]:
    """Chunks of one pTHat bin share a bin cross-section: the sum-of-weights-weighted mean of the
    chunks' estimates, divided by the bin's total sum of weights."""
    by_bin: dict[tuple, list[tuple[str, dict]]] = defaultdict(list)
    for f in files:
        if not meta_path(f).exists():
            raise FileNotFoundError(
                f"{meta_path(f)} not found: a generated chunk needs its metadata (cross-section, sum "
                "of weights) for normalisation. Regenerate the chunk (delete it and rerun snakemake)."
            )
        meta = read_meta(f)
        by_bin[tuple(meta["pthat_bin"])].append((str(f), meta))
    scales = {}
    for chunks in by_bin.values():
        sum_w = sum(m["sum_of_weights"] for _, m in chunks)
        sigma = sum(m["cross_section_pb"] * m["sum_of_weights"] for _, m in chunks) / sum_w
        scales.update({f: sigma / sum_w for f, _ in chunks})
    return scales
