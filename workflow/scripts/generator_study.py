from analysis.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

from analysis import paths  # noqa: E402
from analysis.config import from_dict  # noqa: E402
from analysis.generators import run_generator_study  # noqa: E402

cfg = from_dict(snakemake.config)
run_generator_study(cfg, snakemake.input.metrics, {s: paths.matching_tables(cfg.tag, s) for s in cfg.generators()},
                    snakemake.output.json, snakemake.output.md)
