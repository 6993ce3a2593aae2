from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

import logging

from analysis.config import from_dict
from analysis.stages.qg import run_qg_samples

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
run_qg_samples(from_dict(snakemake.config), snakemake.input, snakemake.output, snakemake.wildcards)
