from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

from analysis import paths  # noqa: E402
from analysis.config import from_dict  # noqa: E402
from analysis.evaluation.generators import run_generator_study  # noqa: E402

cfg = from_dict(snakemake.config)
tables = {s: paths.matching_tables(cfg.tag, s) for s in cfg.generators() if s in cfg.matched_samples()}
run_generator_study(cfg, snakemake.input.metrics, tables, snakemake.output.json, snakemake.output.md)
