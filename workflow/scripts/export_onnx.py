from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

from analysis.config import from_dict  # noqa: E402
from analysis.methods.export import run_export  # noqa: E402

cfg = from_dict(snakemake.config)
print(run_export(snakemake.input[0], snakemake.output[0], cfg.tag, cfg.stage_config("train")))
