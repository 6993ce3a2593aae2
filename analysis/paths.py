"""Where every artifact lives: one place for the Snakefile, the CLI and the tests."""
from __future__ import annotations

from analysis.config import Config


def results_dir(tag: str) -> str:
    return f"results/{tag}"


def chunk_file(tag: str, sample: str, chunk: int | str) -> str:
    """A generated chunk; pass "{sample}", "{chunk}" to get the rule's wildcard pattern."""
    return f"{results_dir(tag)}/events/{sample}/chunk{chunk}.root"


def check_input_report(tag: str, sample: str) -> str:
    """What `check_input` found in a user sample's files."""
    return f"{results_dir(tag)}/events/{sample}/check_input.json"


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
        targets.append(check_input_report(cfg.tag, name))
    return targets
