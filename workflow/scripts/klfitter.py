from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

import torch

from analysis.config import from_dict
from analysis.stages.baselines import run_klfitter

torch.set_num_threads(snakemake.threads)
run_klfitter(from_dict(snakemake.config), snakemake.input, snakemake.output, snakemake.wildcards)
