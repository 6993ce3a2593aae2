from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

from analysis.config import from_dict  # noqa: E402
from analysis.stages.baselines import run_chi2  # noqa: E402

cfg = from_dict(snakemake.config)
run_chi2(cfg, int(snakemake.wildcards.n_jets), snakemake.input.widths, snakemake.input.test,
         {sample: snakemake.output[sample] for sample in cfg.samples})
