from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

import torch  # noqa: E402

from analysis.config import from_dict  # noqa: E402
from analysis.stages.baselines import run_klfitter  # noqa: E402

torch.set_num_threads(snakemake.threads)
cfg = from_dict(snakemake.config)
run_klfitter(cfg, int(snakemake.wildcards.n_jets), snakemake.input.transfer_functions, snakemake.input.test,
             {sample: snakemake.output[sample] for sample in cfg.samples})
