"""The assignment methods by name: what each one is and can do, and which module implements it.

The table below is all the workflow needs to plan jobs and label results (which names are
networks or baselines, what a method's score is called, whether it gives per-jet class
probabilities, an ONNX export or attention maps) and it imports neither torch nor the models,
so the Snakefile and the config checks read it at start-up. A method's code lives in its own
module, whose `ADAPTER` the stages load through `Method.adapter()`: adding a method is that
module plus one line in `REGISTRY`. Every baseline's assignment jobs come from the one rule
`baseline` (workflow/rules/baselines.smk), which takes its calibration file, threads and memory
from the baseline's entry here.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Method:
    """One assignment method (a network architecture, a permutation baseline, or the format of
    predictions made outside the workflow)."""

    name: str
    kind: Literal["network", "baseline", "imported"]
    module: str
    """The module holding the method's `ADAPTER` (and, for a network, its model)."""
    score_name: str
    """What its per-event score is (axis labels, tables): lower = more confident everywhere."""
    display: str
    """Its name in legends and tables (a baseline's method adds its jet count; a network of the
    config may set its own `label`)."""
    probabilities: bool = False
    """Per-jet class probabilities: confusion matrix and validity-versus-score curves."""
    entropy_cut: bool = False
    """Its validity depends on a cut on the predictive entropy (Fig. 6)."""
    onnx: bool = False
    """Exported to ONNX with its decoding (analysis.methods.export, rule `export_onnx`)."""
    attention: bool = False
    """Attention maps from its adapter's `attention` (rule `attention`, Fig. 12)."""
    calibration: str | None = None
    """A baseline's calibration file, which its assigner reads: the name of the analysis.paths
    function giving that file from the config tag (`paths.<calibration>(tag)`), written by the
    rule that fits it. The rule `baseline` takes it as its input `calibration`."""
    threads: int = 1
    """The threads of a baseline's assignment jobs (rule `baseline`)."""
    mem_mb: int = 2000
    """The memory (MB) of a baseline's assignment jobs (rule `baseline`); 2000 = the profiles'
    default-resources."""
    two_body_decays: bool = True
    """Runs on topologies with two-body decays (t tbar H's H -> b bbar), not only on cascades;
    a baseline without it is not run on such a topology, and the tables say so (`not_run`)."""
    not_run_reason: str = ""
    """Why it is not run on a topology with two-body decays (the tables' note)."""

    def adapter(self) -> Any:
        return importlib.import_module(self.module).ADAPTER


REGISTRY: dict[str, Method] = {m.name: m for m in (
    Method("saja", "network", "analysis.methods.saja", "predictive entropy", "SAJA", probabilities=True,
           entropy_cut=True, onnx=True, attention=True),
    Method("spanet", "network", "analysis.methods.spanet", "-log P(assignment)", "SPA-NET", probabilities=True,
           onnx=True),
    Method("chi2", "baseline", "analysis.methods.chi2", "chi^2", r"$\chi^2$", calibration="chi2_widths_file",
           mem_mb=4000),
    Method("klfitter", "baseline", "analysis.methods.klfitter", "-log L", "KLFitter-style",
           calibration="transfer_functions_file", threads=2, mem_mb=6000, two_body_decays=False,
           not_run_reason="KLFitter has no likelihood for t tbar H, so neither has this fit"),
    Method("spanet_predictions", "imported", "analysis.methods.imported", "-log P(assignment)", "SPANet (official)"),
)}


def network_names() -> list[str]:
    return [name for name, m in REGISTRY.items() if m.kind == "network"]


def baseline_names() -> list[str]:
    return [name for name, m in REGISTRY.items() if m.kind == "baseline"]


def imported_names() -> list[str]:
    return [name for name, m in REGISTRY.items() if m.kind == "imported"]


def get(name: str) -> Method:
    """The registry entry `name`, or a ValueError listing the known methods."""
    if name not in REGISTRY:
        raise ValueError(f"unknown assignment method {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[name]
