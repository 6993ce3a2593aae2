from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

from analysis.config import from_dict  # noqa: E402
from analysis.selection import run_skim  # noqa: E402

run_skim(from_dict(snakemake.config), snakemake.wildcards.sample, snakemake.params.files,
         snakemake.output.skim, snakemake.output.cutflow)
