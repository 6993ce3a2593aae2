from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

from analysis.config import from_dict
from analysis.stages.imported import run_import_predictions

run_import_predictions(from_dict(snakemake.config), snakemake.input, snakemake.output, snakemake.wildcards)
