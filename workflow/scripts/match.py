from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

from analysis.config import from_dict  # noqa: E402
from analysis.matching import run_match  # noqa: E402

run_match(from_dict(snakemake.config), snakemake.wildcards.sample, snakemake.input[0],
          snakemake.output.matched, snakemake.output.tables)
