from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

import sys

from analysis import methods
from analysis.config import from_dict
from analysis.stages.baselines import run_baseline

methods.get(snakemake.wildcards["kind"]).adapter()  # the baseline's module, with torch if it uses torch
if "torch" in sys.modules:  # a torch baseline (klfitter) runs on its job's threads, not on every core
    import torch

    torch.set_num_threads(snakemake.threads)
run_baseline(from_dict(snakemake.config), snakemake.input, snakemake.output, snakemake.wildcards)
