"""Cross-section weights: the factor that turns a generator weight into picobarns.

An event's `weight_pb = Event.Weight * scale`, so that summing `weight_pb` over any selection
gives its cross-section and `luminosity * weight_pb` its expected yield. Generated samples take
the scale from their chunks' metadata (Pythia's cross-section and sum of weights, per pTHat
bin); user samples from the config (`cross_section_pb` over `generated_events` or
`sum_of_weights`).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from analysis.config import FileSample, GeneratedSample
from analysis.provenance import meta_path, read_meta


def weight_scales(sample: GeneratedSample | FileSample, files: Sequence[str | Path]) -> dict[str, float]:
    """File -> pb per unit of generator weight."""
    if isinstance(sample, FileSample):
        if sample.sum_of_weights is not None:
            scale = sample.cross_section_pb / sample.sum_of_weights
        else:
            scale = sample.cross_section_pb / sample.generated_events
        return {str(f): scale for f in files}
    return _generated_scales(files)


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
