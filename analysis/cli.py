"""`ttjpa ...` (or `python -m analysis ...`): apply a trained model, vet input files, or run one
stage outside snakemake.

    ttjpa apply results/default/models/saja/model.pt events.root --output assignments.parquet
    ttjpa check-input FILE... [--topology config/topology/tth_allhad.yaml]
    ttjpa generate --config config/test.yaml --sample ttbar --chunk 0 --output out.root
    ttjpa --version

Every failure the user can fix (a config, an input file, an output path, Ctrl-C) ends in one
line on stderr and a non-zero exit: 2 for the command line and the config, 1 for input files
(model files included) and the file system, 130 for an interrupt. Anything else is a bug and
keeps its traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from analysis import __version__, topology
from analysis import config as configlib
from analysis.events.delphes import DelphesInputError
from analysis.topology import TOPOLOGY, TopologyError

INTERRUPTED = 130  # 128 + SIGINT, as shells report it
APPLY = f"""Assign the jets of every event of FILE with a trained model; OUT.parquet gets one row per event:
event (its number), n_jets (its jets in FILE), jets.<slot> (the index of each parton slot's jet among
them, -1 for none; slots {', '.join(TOPOLOGY.slot_names)}), valid (a complete assignment) and score
(lower = more confident). The model applies the jet cuts it was trained with; the event selection is
not applied (analysis/apply.py, analysis/api.py)."""


class UsageError(Exception):
    """An argument that cannot work; the message names it and the fix."""


class InputError(Exception):
    """A model or data file that cannot be used; the message names it and the fix."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "check-input":
            return _check_input(args.files, args.topology)
        if args.command == "apply":
            return _apply(args)
        return _generate(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return INTERRUPTED
    except (configlib.ConfigError, UsageError, TopologyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (DelphesInputError, InputError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `check-input ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no complaint at exit either
        return 1
    except OSError as err:
        print(f"error: {_os_error(err)}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ttjpa", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"ttjpa {__version__}",
                        help="print the version of ttjpa and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                help="what to do (COMMAND -h: its arguments)")

    apply = sub.add_parser("apply", help="assign the jets of a Delphes file with a trained model (parquet)",
                           description=APPLY, formatter_class=argparse.RawDescriptionHelpFormatter)
    apply.add_argument("model", metavar="MODEL",
                       help="a model.pt that the workflow's training wrote (results/<tag>/models/<model>/model.pt)")
    apply.add_argument("file", metavar="FILE",
                       help="a Delphes ROOT file, or a train/val/test .h5 dataset that the workflow's split wrote")
    apply.add_argument("--output", required=True, metavar="OUT.parquet",
                       help="the parquet file to write, one row per event of FILE")
    apply.add_argument("--btag-bit", type=int, default=0, choices=range(32), metavar="BIT",
                       help="the Jet.BTag bit that means b-tagged (one bit per BTagging module of the Delphes card, "
                            "in card order; default 0); a dataset holds the flag already")
    apply.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                       help="where the network runs: auto (a GPU when torch sees one, default), cpu or cuda")

    check = sub.add_parser("check-input", help="vet Delphes ROOT files before a long run")
    check.add_argument("files", nargs="+", metavar="FILE", help="Delphes ROOT files (the globs of your samples)")
    check.add_argument("--topology", default=None, metavar="FILE",
                       help="the topology whose decay chains the matching looks for (default "
                            "config/topology/ttbar_allhad.yaml; config/topology/tth_allhad.yaml for t tbar H)")

    gen = sub.add_parser("generate", help="generate one chunk of an embedded sample")
    gen.add_argument("--config", default="config/config.yaml",
                     help="the workflow config naming the sample (default config/config.yaml)")
    gen.add_argument("--sample", required=True, help="a sample of the config with `source: generate`")
    gen.add_argument("--chunk", type=int, required=True, help="which chunk of the sample (0 .. chunks - 1)")
    gen.add_argument("--output", required=True, help="the Delphes-layout ROOT file to write")
    return parser


def _apply(args: argparse.Namespace) -> int:
    """Every path is checked before the model is loaded and the file read: a bad one fails at once."""
    import torch

    from analysis import api
    from analysis.apply import apply_file
    from analysis.core.training import CheckpointError, pick_device
    from analysis.datasets import DatasetError

    for name, path in (("MODEL", args.model), ("FILE", args.file)):
        if not Path(path).is_file():
            raise InputError(f"{path}: no such file ({name}); check the path")
    _require_writable(Path(args.output), "assignments.parquet")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: torch sees no GPU on this machine; use --device cpu (or auto)")
    try:
        model = api.load(args.model, pick_device(args.device))
        summary = apply_file(model, args.file, args.output, args.btag_bit)
    except (CheckpointError, DatasetError) as err:
        raise InputError(str(err)) from err
    share = summary.valid / summary.events if summary.events else 0.0
    print(f"{args.output}: {summary.events} events, {share:.1%} with a valid assignment "
          f"(score: {model.score_name}, lower = more confident)")
    return 0


def _generate(args: argparse.Namespace) -> int:
    """Every argument is checked before Pythia starts (the chunk by run_generate): a bad one fails
    in a second, not after minutes of generation."""
    from analysis.stages.generate import run_generate

    cfg = configlib.load(args.config)
    samples = cfg.generated()
    if args.sample not in samples:
        raise configlib.ConfigError(f"{args.config}: no generated sample {args.sample!r}; have {sorted(samples)}")
    _require_writable(Path(args.output), "events.root")
    summary = run_generate(cfg, {}, {"events": args.output}, {"sample": args.sample, "chunk": args.chunk})
    print(f"{args.output}: {summary.events} events, sigma = {summary.cross_section_pb:.4g} pb")
    return 0


def _require_writable(output: Path, example: str) -> None:
    """--output must be a file name under a folder that can be written; folders still missing
    are made when the file is written (analysis.core.provenance.atomic_output), so the check is on
    the nearest one that exists."""
    if output.is_dir():
        raise UsageError(f"--output {output}: is a directory; give a file name, e.g. {output / example}")
    folder = next(parent for parent in output.absolute().parents if parent.exists())
    if not folder.is_dir():
        raise UsageError(f"--output {output}: {folder} is a file, not a folder; choose another --output")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"--output {output}: the folder {folder} is not writable; choose another --output "
                         "or fix the folder's permissions")


def _os_error(err: OSError) -> str:
    """`path: reason` when the error names a path (it usually does), else the message."""
    if err.filename is None:
        return str(err)
    return f"{err.filename}: {err.strerror or err}"


def _check_input(files: list[str], topology_file: str | None) -> int:
    from analysis.inspect import check_file

    chains = topology.load(topology_file) if topology_file else TOPOLOGY
    usable = True
    for path in files:  # each report as soon as it is known: large files take a while
        report = check_file(path, chains)
        print(report.text(), file=sys.stdout if report.usable else sys.stderr, flush=True)
        usable &= report.usable
    return 0 if usable else 1
