from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

from analysis.config import from_dict  # noqa: E402
from analysis.events.generate import run_chunk  # noqa: E402

run_chunk(from_dict(snakemake.config), snakemake.params.sample, snakemake.params.chunk, snakemake.output.events)
