"""Speed and memory of the embedded generation chain, written to benchmarks/results/generation.json.

    python -m benchmarks.generation [--events 2000]

Figures (issue: chain <= 1.20x bare Pythia; 2 chunks on 2 cores >= 1.8x one chunk):
  bare_pythia_events_per_s     pythia.next() loop, same settings as the chain
  nextbatch_events_per_s       pythia.nextBatch (generation + awkward extraction)
  chain_events_per_s           Pythia + extraction + response + clustering + shapes + flavour/b-tag + ROOT write,
                               per event after Pythia's initialisation (both rates exclude it)
  chunk_setup_s                Pythia initialisation, paid once per chunk (not per event)
  chain_over_bare_time_ratio   time per event of the chain / bare Pythia
  peak_rss_mb_per_chunk        peak resident memory of one chunk job (own process)
  two_chunk_speedup            2 x (time of one chunk) / (time of two chunks in parallel)
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

import yaml

from analysis.core.provenance import now
from analysis.events.generate import Reconstruction, generate_chunk
from analysis.events.pythia import GeneratorSettings, PythiaRun
from benchmarks._common import ROOT, machine, peak_rss_mb, report

CARD = ROOT / "config" / "detector_cms.yaml"


def bare_pythia(n_events: int, seed: int) -> tuple[float, float]:
    run = PythiaRun(GeneratorSettings(process="ttbar_allhad", seed=seed))
    run.pythia.next()  # first event carries one-off set-up costs
    start = time.perf_counter()
    for _ in range(n_events):
        run.pythia.next()
    loop = time.perf_counter() - start
    start = time.perf_counter()
    for _ in run.batches(n_events, 500):
        pass
    return n_events / loop, n_events / (time.perf_counter() - start)


def chain_job(n_events: int, seed: int, queue) -> None:
    """One chunk job in its own process: (seconds, peak RSS in MB)."""
    reco = Reconstruction.from_config(yaml.safe_load(CARD.read_text()))
    with tempfile.TemporaryDirectory() as tmp:
        summary = generate_chunk(GeneratorSettings(process="ttbar_allhad", seed=seed), reco, n_events=n_events,
                                 first_event_number=0, output=Path(tmp) / "chunk.root", detector_seed=seed,
                                 progress=False)
    queue.put((summary.seconds, summary.setup_seconds, peak_rss_mb()))


def run_chunks(n_events: int, seeds: list[int]) -> tuple[float, list[tuple[float, float, float]]]:
    """Wall time of chunk jobs started together, and each job's (seconds, setup seconds, RSS MB)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=chain_job, args=(n_events, s, queue)) for s in seeds]
    start = time.perf_counter()
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    return time.perf_counter() - start, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5000, help="events per chunk / measurement")
    args = parser.parse_args()
    started = now()

    bare_rate, batch_rate = bare_pythia(args.events, seed=1)
    _, [(chain_seconds, setup_seconds, rss)] = run_chunks(args.events, [2])
    chain_rate = args.events / (chain_seconds - setup_seconds)
    one_wall, _ = run_chunks(args.events, [3])
    two_wall, two = run_chunks(args.events, [4, 5])

    result = {
        "benchmark": "generation",
        "inputs": {"process": "ttbar_allhad", "events_per_chunk": args.events, "card": str(CARD.relative_to(ROOT)),
                   "mpi_and_hadronization": True},
        "machine": machine(),
        "started": started,
        "finished": now(),
        "bare_pythia_events_per_s": bare_rate,
        "nextbatch_events_per_s": batch_rate,
        "chain_events_per_s": chain_rate,
        "chain_over_bare_time_ratio": bare_rate / chain_rate,
        "chain_over_nextbatch_time_ratio": batch_rate / chain_rate,
        "chunk_setup_s": setup_seconds,
        "peak_rss_mb_per_chunk": max([rss] + [r for _, _, r in two]),
        "one_chunk_wall_s": one_wall,
        "two_chunks_parallel_wall_s": two_wall,
        "two_chunk_speedup": 2 * one_wall / two_wall,
    }
    report("generation", result)


if __name__ == "__main__":
    main()
