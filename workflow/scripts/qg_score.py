from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

import torch  # noqa: E402

from analysis.config import from_dict  # noqa: E402
from analysis.qg.training import run_qg_score  # noqa: E402

torch.set_num_threads(snakemake.threads)
run_qg_score(from_dict(snakemake.config), snakemake.wildcards.tagger, snakemake.input.model,
             snakemake.input.samples, snakemake.output[0])
