from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

import sys

from analysis import methods
from analysis.config import from_dict
from analysis.stages.baselines import run_baseline

methods.get(snakemake.wildcards["kind"]).adapter()  # a torch baseline (klfitter) imports torch here and
if "torch" in sys.modules:  # then runs on its job's threads, not on every core
    sys.modules["torch"].set_num_threads(snakemake.threads)
run_baseline(from_dict(snakemake.config), snakemake.input, snakemake.output, snakemake.wildcards)
