from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

from analysis.config import from_dict  # noqa: E402
from analysis.methods.networks import run_predict  # noqa: E402

cfg = from_dict(snakemake.config)
run_predict(cfg, snakemake.wildcards.model, snakemake.input.model, snakemake.input.test,
            {sample: snakemake.output[sample] for sample in cfg.samples})
