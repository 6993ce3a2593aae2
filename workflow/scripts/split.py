from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

from analysis.config import from_dict  # noqa: E402
from analysis.datasets import SETS, run_split  # noqa: E402

cfg = from_dict(snakemake.config)
run_split(cfg, dict(zip(cfg.matched_samples(), snakemake.input.matched, strict=True)),
          {name: snakemake.output[name] for name in SETS}, snakemake.output.event_info)
