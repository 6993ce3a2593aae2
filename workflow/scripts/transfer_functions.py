from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

from analysis.config import from_dict  # noqa: E402
from analysis.stages.baselines import run_transfer_functions  # noqa: E402

run_transfer_functions(from_dict(snakemake.config), snakemake.input[0], snakemake.output.json, snakemake.output.figure)
