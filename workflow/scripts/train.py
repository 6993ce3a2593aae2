from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

import logging

import torch

from analysis.config import from_dict
from analysis.stages.train import run_train

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
torch.set_num_threads(snakemake.threads)
run_train(from_dict(snakemake.config), snakemake.input, snakemake.output, snakemake.wildcards)
