"""`python -m analysis ...`: run one stage outside snakemake, or vet input files.

    python -m analysis check-input FILE...
    python -m analysis generate --config config/test.yaml --sample ttbar --chunk 0 --output out.root
"""
from __future__ import annotations

import argparse
import sys

from analysis import config as configlib


def main(argv: list[str] | None = None) -> int:
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

    args = parser.parse_args(argv)
    try:
        if args.command == "check-input":
            return _check_input(args.files)
        if args.command == "generate":
            from analysis.events.generate import run_chunk

            cfg = configlib.load(args.config)
            if args.sample not in cfg.generated():
                raise configlib.ConfigError(
                    f"{args.config}: no generated sample {args.sample!r}; have {sorted(cfg.generated())}"
                )
            summary = run_chunk(cfg, args.sample, args.chunk, args.output)
            print(f"{args.output}: {summary.events} events, sigma = {summary.cross_section_pb:.4g} pb")
            return 0
    except configlib.ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 1


def _check_input(files: list[str]) -> int:
    from analysis.events.inspect import check_file

    reports = [check_file(f) for f in files]
    for report in reports:
        print(report.text(), file=sys.stdout if report.usable else sys.stderr)
    return 0 if all(r.usable for r in reports) else 1
