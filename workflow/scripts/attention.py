from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

from analysis.config import from_dict  # noqa: E402
from analysis.evaluation.attention import run_attention  # noqa: E402

run_attention(from_dict(snakemake.config), snakemake.wildcards.model, snakemake.input.model, snakemake.input.test,
              snakemake.output[0])
