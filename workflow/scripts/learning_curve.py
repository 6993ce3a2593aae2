from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

from analysis.config import from_dict
from analysis.stages.evaluate import run_learning_curve

run_learning_curve(from_dict(snakemake.config), snakemake.input, snakemake.output, snakemake.wildcards)
