from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

import torch

from analysis.config import from_dict
from analysis.stages.qg import run_qg_score

torch.set_num_threads(snakemake.threads)
run_qg_score(from_dict(snakemake.config), snakemake.input, snakemake.output, snakemake.wildcards)
