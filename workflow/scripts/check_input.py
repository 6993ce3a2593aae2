from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

from analysis.events.inspect import write_report  # noqa: E402

write_report(snakemake.input, snakemake.output[0], sample=snakemake.wildcards.sample)
