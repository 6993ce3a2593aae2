from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

import logging  # noqa: E402

from analysis.config import from_dict  # noqa: E402
from analysis.qg.samples import run_qg_sample  # noqa: E402

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
run_qg_sample(from_dict(snakemake.config), snakemake.wildcards.sample, snakemake.params.files, snakemake.output[0])
