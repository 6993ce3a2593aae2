from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

import sys

from analysis import methods
from analysis.config import from_dict
from analysis.stages.baselines import run_baseline

cfg = from_dict(snakemake.config)
methods.get(cfg.method_kind(snakemake.wildcards["baseline"])).adapter()  # a torch baseline (klfitter) imports
if "torch" in sys.modules:  # torch here and then runs on its job's threads, not on every core
    sys.modules["torch"].set_num_threads(snakemake.threads)
run_baseline(cfg, snakemake.input, snakemake.output, snakemake.wildcards)
