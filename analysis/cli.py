"""`python -m analysis ...`: run one stage outside snakemake, or vet input files.

    python -m analysis check-input FILE...
    python -m analysis generate --config config/test.yaml --sample ttbar --chunk 0 --output out.root

Every failure the user can fix (a config, an input file, an output path, Ctrl-C) ends in one
line on stderr and a non-zero exit: 2 for the command line and the config, 1 for input files and
the file system, 130 for an interrupt. Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from analysis import config as configlib
from analysis.events.delphes import DelphesInputError

INTERRUPTED = 130  # 128 + SIGINT, as shells report it


class UsageError(Exception):
    """An argument that cannot work; the message names it and the fix."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "check-input":
            return _check_input(args.files)
        return _generate(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return INTERRUPTED
    except (configlib.ConfigError, UsageError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except DelphesInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `check-input ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no complaint at exit either
        return 1
    except OSError as err:
        print(f"error: {_os_error(err)}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check-input", help="vet Delphes ROOT files before a long run")
    check.add_argument("files", nargs="+")

    gen = sub.add_parser("generate", help="generate one chunk of an embedded sample")
    gen.add_argument("--config", default="config/config.yaml")
    gen.add_argument("--sample", required=True)
    gen.add_argument("--chunk", type=int, required=True)
    gen.add_argument("--output", required=True)
    return parser


def _generate(args: argparse.Namespace) -> int:
    """Every argument is checked before Pythia starts (the chunk by run_generate): a bad one fails
    in a second, not after minutes of generation."""
    from analysis.stages.generate import run_generate

    cfg = configlib.load(args.config)
    samples = cfg.generated()
    if args.sample not in samples:
        raise configlib.ConfigError(f"{args.config}: no generated sample {args.sample!r}; have {sorted(samples)}")
    _require_writable(Path(args.output))
    summary = run_generate(cfg, {}, {"events": args.output}, {"sample": args.sample, "chunk": args.chunk})
    print(f"{args.output}: {summary.events} events, sigma = {summary.cross_section_pb:.4g} pb")
    return 0


def _require_writable(output: Path) -> None:
    """--output must be a file name under a folder that can be written; folders still missing
    are made when the file is written (analysis.core.provenance.atomic_output), so the check is on
    the nearest one that exists."""
    if output.is_dir():
        raise UsageError(f"--output {output}: is a directory; give a file name, e.g. {output / 'events.root'}")
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


def _check_input(files: list[str]) -> int:
    from analysis.events.inspect import check_file

    usable = True
    for path in files:  # each report as soon as it is known: large files take a while
        report = check_file(path)
        print(report.text(), file=sys.stdout if report.usable else sys.stderr, flush=True)
        usable &= report.usable
    return 0 if usable else 1
