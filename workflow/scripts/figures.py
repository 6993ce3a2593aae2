from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

from pathlib import Path  # noqa: E402

from analysis import paths  # noqa: E402
from analysis.config import from_dict  # noqa: E402
from analysis.evaluation.summary import run_figures  # noqa: E402
from analysis.plotting.names import FIGURE_NAMES  # noqa: E402

cfg = from_dict(snakemake.config)
run_figures(cfg, snakemake.input.metrics, {s: paths.matching_tables(cfg.tag, s) for s in cfg.matched_samples()},
            {m: paths.attention_file(cfg.tag, m) for m in cfg.networks_with("attention")},
            {Path(p).stem: p for p in snakemake.input.benchmarks},
            {name: [snakemake.output[name], snakemake.output[f"{name}_pdf"]] for name in FIGURE_NAMES})
