from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

from analysis.config import from_dict
from analysis.stages.split import run_test_set

run_test_set(from_dict(snakemake.config), snakemake.input, snakemake.output, snakemake.wildcards)
