from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

import logging  # noqa: E402

from analysis.config import from_dict  # noqa: E402
from analysis.stages.qg import run_qg_calibration  # noqa: E402

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
cfg = from_dict(snakemake.config)
run_qg_calibration(cfg, snakemake.input.samples, dict(zip(cfg.qg.taggers, snakemake.input.scores, strict=True)),
                   snakemake.output.json, snakemake.output.md)
