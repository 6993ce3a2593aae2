"""Speed and memory of the skim and the matching, written to benchmarks/results/skim_match.json.

    python -m benchmarks.skim_match [--events-per-chunk 5000] [--chunks 4]

Figures (issue: columnar >= 100x the per-event loop; peak RSS flat in the number of chunks):
  columnar_events_per_s            selection + parton finding + matching on in-memory arrays, in
                                   steps of the stage's default read_step (one step by default);
                                   median of COLUMNAR_REPEATS runs
  loop_events_per_s                the same with the per-event Python loops of tests/reference.py,
                                   starting from the same awkward arrays (so including their
                                   conversion to Python objects, which a loop cannot do without);
                                   median of LOOP_REPEATS runs
  columnar_over_loop_speedup       their ratio
  loop_without_conversion_events_per_s, columnar_over_loop_without_conversion_speedup
                                   the loop alone, conversion not counted (the loop's best case)
  record_loop_events_per_s, columnar_over_record_loop_speedup
                                   the same loop reading each event as an awkward record
                                   (`for event in array`), the way a loop is often written; on the
                                   first RECORD_LOOP_EVENTS events only (it is slow)
  stage_events_per_s               the skim and match stages as run by snakemake, ROOT reading and
                                   parquet writing included (input events / wall time)
  peak_rss_mb_1_chunk, peak_rss_mb_4_chunks
                                   peak resident memory of a skim job over 1 and 4 chunks (own
                                   process, read in steps of READ_STEP events)
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

import awkward as ak
import numpy as np
import yaml

from analysis import config as configlib
from analysis.events import delphes
from analysis.events.generate import Reconstruction, generate_chunk
from analysis.events.pythia import GeneratorSettings
from analysis.jagged import Columns
from analysis.matching import Pairs, run_match
from analysis.partons import PARTON_FIELDS, find_ttbar_partons
from analysis.provenance import now
from analysis.selection import run_skim, select
from benchmarks._common import ROOT, machine, peak_rss_mb, report
from tests import reference

READ_STEP = 1000
COLUMNAR_STEP = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["selection"]["read_step"]
RECORD_LOOP_EVENTS = 1000
COLUMNAR_REPEATS, LOOP_REPEATS = 15, 3


def make_config(files: list[Path], events: int) -> configlib.Config:
    raw = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    raw["samples"] = {"ttbar": {"source": "files", "files": [str(f) for f in files], "cross_section_pb": 1.0,
                                "generated_events": events}}
    raw["selection"] = {"read_step": READ_STEP}
    return configlib.from_dict(raw)


def generate(path: Path, n_events: int, seed: int) -> None:
    reco = Reconstruction.from_config(yaml.safe_load((ROOT / "config" / "detector_cms.yaml").read_text()))
    generate_chunk(GeneratorSettings(process="ttbar_allhad", seed=seed), reco, n_events=n_events,
                   first_event_number=seed * n_events, output=path, detector_seed=seed, progress=False)


def skim_job(files: list[str], events: int, out: str, queue) -> None:
    """A skim over `files` in its own process; reports its peak RSS in MB."""
    cfg = make_config([Path(f) for f in files], events)
    run_skim(cfg, "ttbar", files, Path(out) / "s.parquet", Path(out) / "s.json")
    queue.put(peak_rss_mb())


def peak_rss(files: list[Path], events: int, out: Path) -> float:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=skim_job, args=([str(f) for f in files], events, str(out), queue))
    proc.start()
    rss = queue.get()
    proc.join()
    return rss


def columnar(arrays: dict[str, ak.Array], cfg: configlib.Config) -> int:
    """Matched events, computed step by step as the skim reads them."""
    matched = 0
    for start in range(0, len(arrays["Jet"]), COLUMNAR_STEP):
        jets = Columns.of(arrays["Jet"][start:start + COLUMNAR_STEP], {"PT": "pt", "Eta": "eta", "Phi": "phi",
                                                                       "BTag": "btag"})
        selected = select(jets, cfg.cuts)
        particles = Columns.of(arrays["Particle"][start:start + COLUMNAR_STEP], PARTON_FIELDS)
        partons = find_ttbar_partons(particles.select(selected.masks[-1]))
        parton_jet = Pairs.of(selected.jets, partons).match(cfg.matching.dr_max)
        matched += int((parton_jet >= 0).all(axis=1).sum())
    return matched


def median_seconds(function, repeats: int) -> tuple[float, object]:
    """Median wall time of `repeats` calls, and the last call's result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def loop(jets: list, particles: list, cfg: configlib.Config) -> int:
    matched = 0
    for event_jets, event_particles in zip(jets, particles, strict=True):
        event_jets = [{"pt": j["PT"], "eta": j["Eta"], "phi": j["Phi"], "btag": j["BTag"]} for j in event_jets]
        if not reference.passes_selection(event_jets, cfg.cuts):
            continue
        used = [(j["eta"], j["phi"]) for j in event_jets
                if j["pt"] > cfg.cuts.jet_pt_min and abs(j["eta"]) < cfg.cuts.jet_eta_max]
        partons = [(p["Eta"], p["Phi"]) for p in reference.ttbar_partons(event_particles)]
        matched += bool(partons) and min(reference.match_event(used, partons, cfg.matching.dr_max)) >= 0
    return matched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events-per-chunk", type=int, default=5000)
    parser.add_argument("--chunks", type=int, default=4)
    args = parser.parse_args()
    started = now()
    n = args.events_per_chunk
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = [tmp / f"chunk{i}.root" for i in range(args.chunks)]
        with mp.get_context("spawn").Pool(2) as pool:
            pool.starmap(generate, [(f, n, i + 1) for i, f in enumerate(files)])
        total = n * args.chunks
        cfg = make_config(files, total)

        start = time.perf_counter()
        run_skim(cfg, "ttbar", files, tmp / "skim.parquet", tmp / "cutflow.json")
        run_match(cfg, "ttbar", tmp / "skim.parquet", tmp / "matched.parquet", tmp / "tables.json")
        stage_seconds = time.perf_counter() - start

        spec = {"Jet": ("PT", "Eta", "Phi", "BTag"), "Particle": PARTON_FIELDS}
        parts = [delphes.read(f, spec) for f in files]
        arrays = {k: ak.concatenate([p[k] for p in parts]) for k in spec}
        columnar_seconds, matched_columnar = median_seconds(lambda: columnar(arrays, cfg), COLUMNAR_REPEATS)
        conversion_seconds, (jets, particles) = median_seconds(
            lambda: (arrays["Jet"].to_list(), arrays["Particle"].to_list()), LOOP_REPEATS)
        loop_only_seconds, matched_loop = median_seconds(lambda: loop(jets, particles, cfg), LOOP_REPEATS)
        loop_seconds = conversion_seconds + loop_only_seconds
        head = slice(0, RECORD_LOOP_EVENTS)
        start = time.perf_counter()
        loop(arrays["Jet"][head], arrays["Particle"][head], cfg)
        record_loop_seconds = (time.perf_counter() - start) * total / RECORD_LOOP_EVENTS
        if matched_loop != matched_columnar:
            raise RuntimeError(f"loop and columnar disagree: {matched_loop} vs {matched_columnar} matched events")

        rss_one = peak_rss(files[:1], n, tmp)
        rss_all = peak_rss(files, total, tmp)

    report("skim_match", {
        "benchmark": "skim_match",
        "inputs": {"process": "ttbar_allhad", "events_per_chunk": n, "chunks": args.chunks,
                   "read_step": READ_STEP, "columnar_step": COLUMNAR_STEP, "dr_max": cfg.matching.dr_max,
                   "columnar_repeats": COLUMNAR_REPEATS, "loop_repeats": LOOP_REPEATS},
        "machine": machine(),
        "started": started,
        "finished": now(),
        "events": total,
        "matched_events": matched_columnar,
        "columnar_events_per_s": total / columnar_seconds,
        "loop_events_per_s": total / loop_seconds,
        "columnar_over_loop_speedup": loop_seconds / columnar_seconds,
        "loop_without_conversion_events_per_s": total / loop_only_seconds,
        "columnar_over_loop_without_conversion_speedup": loop_only_seconds / columnar_seconds,
        "record_loop_events_per_s": total / record_loop_seconds,
        "columnar_over_record_loop_speedup": record_loop_seconds / columnar_seconds,
        "stage_events_per_s": total / stage_seconds,
        "peak_rss_mb_1_chunk": rss_one,
        f"peak_rss_mb_{args.chunks}_chunks": rss_all,
        "peak_rss_ratio": float(np.float64(rss_all) / rss_one),
    })


if __name__ == "__main__":
    main()
