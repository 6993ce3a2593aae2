from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

import logging  # noqa: E402

import torch  # noqa: E402

from analysis.config import from_dict  # noqa: E402
from analysis.methods.networks import run_train  # noqa: E402

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
torch.set_num_threads(snakemake.threads)
run_train(from_dict(snakemake.config), snakemake.wildcards.model, snakemake.input.train, snakemake.input.val,
          snakemake.output.model.rsplit("/", 1)[0])
