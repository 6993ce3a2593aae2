"""The figures of the workflow and their report categories, without importing matplotlib (the
Snakefile reads this to name its outputs)."""
from __future__ import annotations

FIGURES = {
    "fig02_matched_fraction": "Matching",
    "fig03_njets": "Matching",
    "fig04_leading_n": "Matching",
    "fig05_performance": "Performance",
    "fig06_valid_fraction": "Performance",
    "fig07_correct_vs_njets": "Performance",
    "fig08_masses": "Reconstruction",
    "fig09_confusion": "Networks",
    "fig10_per_sample": "Generators",
    "generators_correct": "Generators",
    "generators_entropy": "Generators",
    "fig11_entropy": "Networks",
    "fig12_attention": "Networks",
    "fig13_latency": "Speed",
    "table_efficiencies": "Performance",
}
"""Figure name (results/{tag}/figures/<name>.{png,pdf}) -> report category."""
FIGURE_NAMES = tuple(FIGURES)

QG_FIGURES = {
    "qg_tagger_output": "Quark/gluon",
    "qg_roc": "Quark/gluon",
    "qg_closure": "Quark/gluon",
    "qg_scale_factors": "Quark/gluon",
}
"""The q/g study's figures (same directory), drawn by the `qg_figures` rule."""
QG_FIGURE_NAMES = tuple(QG_FIGURES)
