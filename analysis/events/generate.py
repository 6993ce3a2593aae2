"""One chunk of an embedded sample: Pythia -> visible particles -> detector response ->
anti-kT jets with flavour, b-tag and shapes -> Delphes-layout ROOT file."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import numpy as np
from tqdm import tqdm

from analysis.config import Config, ConfigError
from analysis.core.provenance import atomic_output, now, sweep_leftovers, write_meta
from analysis.events import jets as jetlib
from analysis.events.delphes import DelphesWriter
from analysis.events.detector import Candidates, DetectorResponse, TagEfficiency, btag, reconstruct
from analysis.events.particles import ChargeTable, FlatRecord, flavour_partons, hard_process, visible_final_state
from analysis.events.pythia import GeneratorSettings, PythiaRun


@dataclass(frozen=True)
class Reconstruction:
    """Detector and jet settings of the embedded generator (config `detector:`)."""

    response: DetectorResponse
    jet_radius: float
    jet_pt_min: float
    flavour_delta_r: float
    flavour_parton_pt_min: float
    flavour_parton_eta_max: float
    btag: dict[str, TagEfficiency]

    @classmethod
    def from_config(cls, cfg: dict) -> Reconstruction:
        return cls(
            response=DetectorResponse.from_config(cfg),
            jet_radius=cfg["jet_radius"],
            jet_pt_min=cfg["jet_pt_min"],
            flavour_delta_r=cfg["flavour"]["delta_r"],
            flavour_parton_pt_min=cfg["flavour"]["parton_pt_min"],
            flavour_parton_eta_max=cfg["flavour"]["parton_eta_max"],
            btag={name: TagEfficiency(**pars) for name, pars in cfg["btag"].items()},
        )


@dataclass
class ChunkSummary:
    events: int
    sum_of_weights: float
    cross_section_pb: float
    cross_section_error_pb: float
    seconds: float
    setup_seconds: float
    """Pythia initialisation, paid once per chunk."""


def generate_chunk(
    settings: GeneratorSettings,
    reco: Reconstruction,
    n_events: int,
    first_event_number: int,
    output: str | Path,
    detector_seed: int,
    constituents: bool = False,
    batch_size: int = 500,
    progress: bool = True,
    file_id: str = "",
) -> ChunkSummary:
    """Generate `n_events` and write them to `output` (the caller makes the write atomic)."""
    start = time.perf_counter()
    run = PythiaRun(settings)
    setup_seconds = time.perf_counter() - start
    charge = ChargeTable(run.charge)
    rng = np.random.default_rng(detector_seed)
    number = first_event_number
    with DelphesWriter(output, file_id=f"{file_id}:{settings.seed}") as writer, tqdm(
        total=n_events, desc=file_id or Path(output).name, unit="ev", disable=not progress, mininterval=5
    ) as bar:
        for batch in run.batches(n_events, batch_size):
            collections = reconstruct_batch(batch, reco, charge, rng, constituents)
            n = len(batch)
            weights = ak.to_numpy(batch["info"]["weights"][:, 0]).astype(np.float64)
            sigma, sigma_err = run.cross_section_pb
            pthat = np.sqrt(np.asarray(batch["info"]["pT2Hat"], dtype=np.float64))
            collections["Event"] = (
                {
                    "Number": np.arange(number, number + n, dtype=np.int64),
                    "Weight": weights.astype(np.float32),
                    "CrossSection": np.full(n, sigma, dtype=np.float32),
                    "CrossSectionError": np.full(n, sigma_err, dtype=np.float32),
                    "Scale": pthat.astype(np.float32),
                },
                np.ones(n, dtype=np.int64),
            )
            writer.extend(collections)
            number += n
            bar.update(n)
    sigma, sigma_err = run.cross_section_pb
    return ChunkSummary(n_events, run.sum_of_weights, sigma, sigma_err, time.perf_counter() - start, setup_seconds)


def reconstruct_batch(batch, reco: Reconstruction, charge: ChargeTable, rng: np.random.Generator,
                      constituents: bool) -> dict:
    """Delphes collections (flat fields, counts) for one awkward batch of Pythia events."""
    record = FlatRecord.from_batch(batch)
    particles, particle_counts = hard_process(record, charge)
    candidates = reconstruct(
        visible_final_state(record, charge, reco.response.calorimeter_eta_max), reco.response, rng
    )
    jets = jetlib.cluster(candidates, reco.jet_radius, reco.jet_pt_min)
    jetlib.add_shapes(jets, candidates)
    partons, parton_counts = flavour_partons(record, reco.flavour_parton_pt_min, reco.flavour_parton_eta_max)
    jets.fields["Flavor"] = jetlib.flavour(jets, partons, parton_counts, reco.flavour_delta_r)
    jets.fields["BTag"] = btag(jets.fields["Flavor"], jets.fields["PT"], reco.btag, rng)
    out = {
        "Jet": ({k: _storage(v) for k, v in jets.fields.items()}, jets.counts),
        "Particle": ({k: _storage(v) for k, v in particles.items()}, particle_counts),
    }
    if constituents:
        out["ParticleFlowCandidate"] = constituent_collection(jets, candidates)
    return out


def constituent_collection(jets: jetlib.JetBatch, candidates: Candidates) -> tuple[dict, np.ndarray]:
    """Per event, the constituents of its jets with the index of their jet (`JetIndex`)."""
    rows = jets.constituent_rows
    pt, eta, phi = (a[rows] for a in candidates.pt_eta_phi())
    jet_in_event = np.concatenate([np.arange(c) for c in jets.counts]) if len(jets.counts) else np.zeros(0)
    per_event = np.bincount(
        np.repeat(np.arange(len(jets.counts)), jets.counts), weights=jets.constituent_counts,
        minlength=len(jets.counts),
    ).astype(np.int64)
    fields = {
        "PT": pt,
        "Eta": eta,
        "Phi": phi,
        "E": candidates.e[rows],
        "Charge": candidates.charge[rows].astype(np.int32),
        "PID": candidates.pid[rows],
        "JetIndex": np.repeat(jet_in_event, jets.constituent_counts).astype(np.int32),
    }
    return {k: _storage(v) for k, v in fields.items()}, per_event


def _storage(values: np.ndarray) -> np.ndarray:
    """Delphes stores floats as float32 and integers as int32."""
    values = np.asarray(values)
    return values.astype(np.float32) if values.dtype.kind == "f" else values.astype(np.int32)


def run_chunk(cfg: Config, sample: str, chunk: int, output: str | Path) -> ChunkSummary:
    """The `generate` stage: chunk `chunk` of `sample`, written atomically with its provenance."""
    sweep_leftovers([output])
    started = now()
    spec = cfg.generated()[sample]
    if not 0 <= chunk < spec.n_chunks:
        raise ConfigError(f"sample {sample!r} has chunks 0 to {spec.n_chunks - 1} (its `chunks` times its "
                          f"pT-hat bins), not {chunk}")
    generator_seed, detector_seed = cfg.chunk_seeds(sample, chunk)
    settings = GeneratorSettings.for_chunk(spec, chunk, generator_seed)
    n_events, first_number = spec.chunk_events(chunk)
    with atomic_output(output) as tmp:
        summary = generate_chunk(
            settings,
            Reconstruction.from_config(cfg.detector),
            n_events=n_events,
            first_event_number=first_number,
            output=tmp,
            detector_seed=detector_seed,
            constituents=spec.constituents,
            batch_size=cfg.batch_size,
            progress=cfg.progress,
            file_id=f"{cfg.tag}/{sample}/{chunk}",
        )
    low, high = spec.chunk_bin(chunk)
    write_meta(
        output,
        tag=cfg.tag,
        stage="generate",
        config=cfg.sample_config(sample),
        started=started,
        extra={
            "sample": sample,
            "chunk": chunk,
            "pythia_settings": settings.strings(),
            "pthat_bin": [low, high],
            "events": summary.events,
            "sum_of_weights": summary.sum_of_weights,
            "cross_section_pb": summary.cross_section_pb,
            "cross_section_error_pb": summary.cross_section_error_pb,
            "seconds": summary.seconds,
            "setup_seconds": summary.setup_seconds,
        },
    )
    return summary
