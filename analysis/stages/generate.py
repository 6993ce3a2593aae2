"""The rules of workflow/rules/generate.smk: `generate` (one chunk of an embedded sample) and
`check_input` (vet a user sample's Delphes files)."""
from __future__ import annotations

from analysis.config import Config, ConfigError
from analysis.core.provenance import atomic_output, stage_run, sweep_leftovers
from analysis.events.generate import ChunkSummary, Reconstruction, generate_chunk
from analysis.events.pythia import GeneratorSettings
from analysis.inspect import write_report
from analysis.stages._common import Files


def run_generate(cfg: Config, input: Files, output: Files, wildcards: Files) -> ChunkSummary:
    """Chunk `wildcards["chunk"]` of `wildcards["sample"]` to `output["events"]`, written
    atomically with its provenance (the CLI's `generate` too)."""
    sample, chunk, events = wildcards["sample"], int(wildcards["chunk"]), output["events"]
    with stage_run(cfg.tag, "generate", cfg.sample_config(sample), [events]) as run:
        spec = cfg.generated()[sample]
        if not 0 <= chunk < spec.n_chunks:
            raise ConfigError(f"sample {sample!r} has chunks 0 to {spec.n_chunks - 1} (its `chunks` times its "
                              f"pT-hat bins), not {chunk}")
        generator_seed, detector_seed = cfg.chunk_seeds(sample, chunk)
        settings = GeneratorSettings.for_chunk(spec, chunk, generator_seed)
        n_events, first_number = spec.chunk_events(chunk)
        with atomic_output(events) as tmp:
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
        run.extra = {
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
        }
    return summary


def run_check_input(cfg: Config, input: Files, output: Files, wildcards: Files) -> None:
    """Vet every file of user sample `wildcards["sample"]`; fail naming every unusable one, else
    write what each file allows (`output["report"]`, no sidecar: it describes its inputs)."""
    sweep_leftovers([output["report"]])
    write_report(input["files"], output["report"], sample=wildcards["sample"], topology=cfg.topology)
