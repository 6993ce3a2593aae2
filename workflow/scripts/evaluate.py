from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

from analysis import paths  # noqa: E402
from analysis.config import from_dict  # noqa: E402
from analysis.evaluation.summary import run_evaluation  # noqa: E402

cfg = from_dict(snakemake.config)
files = {m: {s: paths.assignment_file(cfg.tag, m, s) for s in cfg.samples} for m in cfg.methods()}
run_evaluation(cfg, files, snakemake.input.test, {s: paths.cutflow_file(cfg.tag, s) for s in cfg.matched_samples()},
               snakemake.output.metrics, {"md": snakemake.output.md, "tex": snakemake.output.tex})
