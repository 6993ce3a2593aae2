"""Speed and memory of the skim and the matching, written to benchmarks/results/skim_match.json.

    python -m benchmarks.skim_match [--events-per-chunk 5000] [--chunks 4]

Figures (issue: columnar >= 100x the per-event loop; peak RSS flat in the number of chunks).
Timings are taken in TIMING_PROCESSES fresh processes, each timing both paths on the same events;
the figures are medians over the processes, the *_by_process lists show their spread (numpy's
speed on this 2-core VM differs by up to a third from one process to the next).
  columnar_events_per_s            selection + parton finding + matching on in-memory arrays, in
                                   steps of the stage's default read_step (one step by default);
                                   per process the median of COLUMNAR_REPEATS runs
  loop_events_per_s                the same with the per-event Python loops of tests/reference.py,
                                   starting from the same awkward arrays (so including their
                                   conversion to Python objects, which a loop cannot do without);
                                   per process the median of LOOP_REPEATS runs
  columnar_over_loop_speedup       their ratio
  loop_without_conversion_events_per_s, columnar_over_loop_without_conversion_speedup
                                   the loop alone, conversion not counted (the loop's best case)
  record_loop_events_per_s, columnar_over_record_loop_speedup
                                   the same loop reading each event as an awkward record
                                   (`for event in array`), the way a loop is often written; on the
                                   first RECORD_LOOP_EVENTS events only (it is slow)
  stage_events_per_s               the skim and match stages as run by snakemake (default read_step),
                                   ROOT reading and parquet writing included (input events / wall time)
  peak_rss_mb_1_chunk, peak_rss_mb_4_chunks
                                   peak resident memory of a skim job over 1 and 4 chunks (own
                                   process, read in steps of RSS_READ_STEP events)
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
from analysis.core.jagged import Columns
from analysis.core.provenance import now
from analysis.events import delphes
from analysis.events.generate import Reconstruction, generate_chunk
from analysis.events.pythia import GeneratorSettings
from analysis.matching import Pairs
from analysis.partons import PARTON_FIELDS, find_partons
from analysis.selection import select
from analysis.stages.match import run_match
from analysis.stages.skim import run_skim
from benchmarks._common import ROOT, machine, peak_rss_mb, report
from tests import reference

RSS_READ_STEP = 1000
DEFAULT_READ_STEP = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["selection"]["read_step"]
RECORD_LOOP_EVENTS = 1000
COLUMNAR_REPEATS, LOOP_REPEATS, TIMING_PROCESSES = 15, 3, 3


def make_config(files: list[Path], events: int, read_step: int = DEFAULT_READ_STEP) -> configlib.Config:
    raw = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    raw["samples"] = {"ttbar": {"source": "files", "files": [str(f) for f in files], "cross_section_pb": 1.0,
                                "generated_events": events}}
    raw["selection"] = {"read_step": read_step}
    return configlib.from_dict(raw)


def generate(path: Path, n_events: int, seed: int) -> None:
    reco = Reconstruction.from_config(yaml.safe_load((ROOT / "config" / "detector_cms.yaml").read_text()))
    generate_chunk(GeneratorSettings(process="ttbar_allhad", seed=seed), reco, n_events=n_events,
                   first_event_number=seed * n_events, output=path, detector_seed=seed, progress=False)


def skim_job(files: list[str], events: int, out: str, queue) -> None:
    """A skim over `files`; reports its peak RSS in MB."""
    cfg = make_config([Path(f) for f in files], events, RSS_READ_STEP)
    run_skim(cfg, {"files": files}, {"skim": Path(out) / "s.parquet", "cutflow": Path(out) / "s.json"},
             {"sample": "ttbar"})
    queue.put(peak_rss_mb())


def timing_job(files: list[str], events: int, queue) -> None:
    """Seconds of the columnar path and of the loop over the same events; reports a dict."""
    cfg = make_config([Path(f) for f in files], events)
    spec = {"Jet": ("PT", "Eta", "Phi", "BTag"), "Particle": PARTON_FIELDS}
    parts = [delphes.read(f, spec) for f in files]
    arrays = {k: ak.concatenate([p[k] for p in parts]) for k in spec}
    columnar_seconds, matched_columnar = median_seconds(lambda: columnar(arrays, cfg), COLUMNAR_REPEATS)
    conversion_seconds, (jets, particles) = median_seconds(
        lambda: (arrays["Jet"].to_list(), arrays["Particle"].to_list()), LOOP_REPEATS)
    loop_seconds, matched_loop = median_seconds(lambda: loop(jets, particles, cfg), LOOP_REPEATS)
    head = slice(0, RECORD_LOOP_EVENTS)
    record_loop_seconds, _ = median_seconds(lambda: loop(arrays["Jet"][head], arrays["Particle"][head], cfg), 1)
    if matched_loop != matched_columnar:
        raise RuntimeError(f"loop and columnar disagree: {matched_loop} vs {matched_columnar} matched events")
    queue.put({"columnar": columnar_seconds, "conversion": conversion_seconds, "loop": loop_seconds,
               "record_loop": record_loop_seconds * len(arrays["Jet"]) / RECORD_LOOP_EVENTS,
               "matched": matched_columnar})


def in_own_process(job, *args):
    """What `job(*args, queue)` puts on its queue, run in a fresh interpreter."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=job, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def columnar(arrays: dict[str, ak.Array], cfg: configlib.Config) -> int:
    """Matched events, computed step by step as the skim reads them."""
    matched = 0
    for start in range(0, len(arrays["Jet"]), DEFAULT_READ_STEP):
        jets = Columns.of(arrays["Jet"][start:start + DEFAULT_READ_STEP], {"PT": "pt", "Eta": "eta", "Phi": "phi",
                                                                       "BTag": "btag"})
        selected = select(jets, cfg.cuts)
        particles = Columns.of(arrays["Particle"][start:start + DEFAULT_READ_STEP], PARTON_FIELDS)
        partons = find_partons(particles.select(selected.masks[-1]), cfg.topology)
        parton_jet = Pairs.of(selected.jets, partons, len(cfg.topology.slots)).match(cfg.matching.dr_max)
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
        run_skim(cfg, {"files": files}, {"skim": tmp / "skim.parquet", "cutflow": tmp / "cutflow.json"},
                 {"sample": "ttbar"})
        run_match(cfg, {"skim": tmp / "skim.parquet"},
                  {"matched": tmp / "matched.parquet", "tables": tmp / "tables.json"}, {"sample": "ttbar"})
        stage_seconds = time.perf_counter() - start

        names = [str(f) for f in files]
        runs = [in_own_process(timing_job, names, total) for _ in range(TIMING_PROCESSES)]
        rss_one = in_own_process(skim_job, names[:1], n, str(tmp))
        rss_all = in_own_process(skim_job, names, total, str(tmp))

    def median(key: str) -> float:
        return float(np.median([run[key] for run in runs]))

    columnar_seconds, loop_seconds = median("columnar"), median("conversion") + median("loop")

    report("skim_match", {
        "benchmark": "skim_match",
        "inputs": {"process": "ttbar_allhad", "events_per_chunk": n, "chunks": args.chunks,
                   "read_step": DEFAULT_READ_STEP, "rss_read_step": RSS_READ_STEP, "dr_max": cfg.matching.dr_max,
                   "columnar_repeats": COLUMNAR_REPEATS, "loop_repeats": LOOP_REPEATS,
                   "timing_processes": TIMING_PROCESSES},
        "machine": machine(),
        "started": started,
        "finished": now(),
        "events": total,
        "matched_events": runs[0]["matched"],
        "columnar_events_per_s": total / columnar_seconds,
        "columnar_events_per_s_by_process": [total / run["columnar"] for run in runs],
        "loop_events_per_s": total / loop_seconds,
        "columnar_over_loop_speedup": loop_seconds / columnar_seconds,
        "columnar_over_loop_speedup_by_process": [(run["conversion"] + run["loop"]) / run["columnar"]
                                                  for run in runs],
        "loop_without_conversion_events_per_s": total / median("loop"),
        "columnar_over_loop_without_conversion_speedup": median("loop") / columnar_seconds,
        "record_loop_events_per_s": total / median("record_loop"),
        "columnar_over_record_loop_speedup": median("record_loop") / columnar_seconds,
        "stage_events_per_s": total / stage_seconds,
        "peak_rss_mb_1_chunk": rss_one,
        f"peak_rss_mb_{args.chunks}_chunks": rss_all,
        "peak_rss_ratio": float(np.float64(rss_all) / rss_one),
    })


if __name__ == "__main__":
    main()
