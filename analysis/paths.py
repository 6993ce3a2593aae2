"""Where every artifact lives: one place for the Snakefile, the CLI and the tests."""
from __future__ import annotations

from analysis.config import Config


def results_dir(tag: str) -> str:
    return f"results/{tag}"


def chunk_file(tag: str, sample: str, chunk: int) -> str:
    return f"{results_dir(tag)}/events/{sample}/chunk{chunk}.root"


def event_files(cfg: Config, sample: str) -> list[str]:
    """The Delphes files of a sample: generated chunks, or the user's files."""
    spec = cfg.samples[sample]
    if spec.source == "generate":
        return [chunk_file(cfg.tag, sample, i) for i in range(spec.n_chunks)]
    return [str(p) for p in spec.paths()]


def all_targets(cfg: Config) -> list[str]:
    """Final outputs of the workflow as far as its stages exist."""
    targets = []
    for name in cfg.generated():
        targets += event_files(cfg, name)
    for name in cfg.from_files():
        targets.append(f"{results_dir(cfg.tag)}/events/{name}/check_input.json")
    return targets
