"""Every figure of the workflow, one entry each: what draws it, what it reads, where the report
shows it. The Snakefile reads this to plan one `figure` job per figure, so it imports no
matplotlib: each entry names its draw function, imported only when that figure is drawn.

A figure's hops: rule `figure` (workflow/rules/evaluate.smk) -> workflow/scripts/figure.py ->
`FIGURES[name].draw`. Its caption for the report is its block in workflow/report/figure.rst.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

READS = {
    "matching_tables": "the matching tables of the samples that have them ({sample: table}); the function is also "
                       "given the SPANet-format samples, which have none (`no_matching`)",
    "metrics": "the evaluation's metrics.json",
    "attention": "the SAJA models' attention averages ({model: attention})",
    "benchmarks": "the committed benchmark JSONs ({name: results})",
    "qg_calibration": "the q/g study's calibration.json",
    "learning_curve": "the learning curve's JSON (metrics/learning_curve.json)",
}
"""What a figure can be drawn from (analysis.paths.figure_inputs gives the files)."""

STUDY_CONFIG = {"ttbar": "evaluate", "qg": "qg_calibrate", "learning_curve": "learning_curve"}
"""Per study, the rule whose config subset (Config.rule_config) its figures depend on: their
params hash (an edit reruns them) and their .meta.json."""


@dataclass(frozen=True)
class Figure:
    draw: str
    """The function drawing it, as `module.function`: called with what it reads and its paths
    (png and pdf)."""
    reads: str
    """A key of READS."""
    category: str
    """The report's category."""
    study: str = "ttbar"
    """A key of STUDY_CONFIG; the q/g study's figures exist only when the config has one, the
    learning curve only when it names networks for it (analysis.paths.figures)."""
    topology: bool = False
    """Its function also takes the run's topology (`topology=`): it names the process, the slots,
    the jet classes, the resonances or the N_jets bins, which the topology decides."""

    def function(self) -> Callable[..., None]:
        module, name = self.draw.rsplit(".", 1)
        return getattr(importlib.import_module(module), name)


FIGURES = {
    "fig02_matched_fraction": Figure("analysis.plotting.paper.fig02_matched_fraction", "matching_tables", "Matching",
                                     topology=True),
    "fig03_njets": Figure("analysis.plotting.paper.fig03_njets", "matching_tables", "Matching", topology=True),
    "fig04_leading_n": Figure("analysis.plotting.paper.fig04_leading_n", "matching_tables", "Matching", topology=True),
    "fig05_performance": Figure("analysis.plotting.paper.fig05_performance", "metrics", "Performance", topology=True),
    "fig06_valid_fraction": Figure("analysis.plotting.paper.fig06_valid_fraction", "metrics", "Performance"),
    "fig07_correct_vs_njets": Figure("analysis.plotting.paper.fig07_correct_vs_njets", "metrics", "Performance", topology=True),
    "fig08_masses": Figure("analysis.plotting.paper.fig08_masses", "metrics", "Reconstruction", topology=True),
    "fig09_confusion": Figure("analysis.plotting.paper.fig09_confusion", "metrics", "Networks", topology=True),
    "fig10_per_sample": Figure("analysis.plotting.paper.fig10_per_sample", "metrics", "Generators", topology=True),
    "generators_correct": Figure("analysis.plotting.paper.generators_correct", "metrics", "Generators",
                                 topology=True),
    "generators_entropy": Figure("analysis.plotting.paper.generators_entropy", "metrics", "Generators"),
    "fig11_entropy": Figure("analysis.plotting.paper.fig11_entropy", "metrics", "Networks", topology=True),
    "fig12_attention": Figure("analysis.plotting.paper.fig12_attention", "attention", "Networks",
                              topology=True),
    "fig13_latency": Figure("analysis.plotting.paper.fig13_latency", "benchmarks", "Speed"),
    "table_efficiencies": Figure("analysis.plotting.paper.efficiency_table_figure", "metrics", "Performance",
                                 topology=True),
    "learning_curve": Figure("analysis.plotting.learning_curve.learning_curve", "learning_curve", "Networks",
                             "learning_curve"),
    "qg_tagger_output": Figure("analysis.plotting.qg.qg_tagger_output", "qg_calibration", "Quark/gluon", "qg"),
    "qg_roc": Figure("analysis.plotting.qg.qg_roc", "qg_calibration", "Quark/gluon", "qg"),
    "qg_closure": Figure("analysis.plotting.qg.qg_closure", "qg_calibration", "Quark/gluon", "qg"),
    "qg_scale_factors": Figure("analysis.plotting.qg.qg_scale_factors", "qg_calibration", "Quark/gluon", "qg"),
}
"""Figure name (results/{tag}/figures/<name>.{png,pdf}) -> its entry."""
