from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

import sys

from analysis import methods
from analysis.config import from_dict
from analysis.stages.baselines import run_baseline

kind = from_dict(snakemake.config).method_kind(snakemake.wildcards["baseline"])
methods.get(kind).adapter()  # a torch baseline (klfitter) imports torch here and then runs on its job's
if "torch" in sys.modules:  # threads, not on every core
    sys.modules["torch"].set_num_threads(snakemake.threads)
run_baseline(from_dict(snakemake.config), snakemake.input, snakemake.output, snakemake.wildcards)
