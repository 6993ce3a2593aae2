from analysis.core.logs import redirect_to_log

redirect_to_log(snakemake.log[0])

from analysis.config import from_dict  # noqa: E402
from analysis.plotting.names import QG_FIGURE_NAMES  # noqa: E402
from analysis.stages.qg import run_qg_figures  # noqa: E402

run_qg_figures(from_dict(snakemake.config), snakemake.input.calibration,
               {name: [snakemake.output[name], snakemake.output[f"{name}_pdf"]] for name in QG_FIGURE_NAMES})
