"""Stage of workflow/rules/imported.smk: assignments made outside the workflow (config key
`imported`), read from their prediction files into the common assignment format."""
from __future__ import annotations

from analysis import methods
from analysis.config import Config
from analysis.core.provenance import stage_run
from analysis.stages._common import Files
from analysis.stages.baselines import raw_inputs, write_assignments


def run_import_predictions(cfg: Config, input: Files, output: Files, wildcards: Files) -> None:
    """Imported method `wildcards["method"]`: its prediction file (`input["predictions"]`, made on
    this run's test set `input["test"]`) -> one assignment file per sample (`output[sample]`);
    score = the registry's `score_name` of its format."""
    name = wildcards["method"]
    spec = cfg.imported[name]
    outputs = {sample: output[sample] for sample in cfg.samples}
    with stage_run(cfg.tag, "import_predictions", cfg.rule_config("import_predictions", model=name), outputs.values(),
                   inputs=[input["predictions"], input["test"]]) as run:
        data = raw_inputs(input["test"])
        reader = methods.get(spec.format).adapter()
        slots, score = reader.read(input["predictions"], data["pt"], data["mask"], cfg.topology)
        write_assignments(run, name, data, slots, score, outputs, {"format": spec.format,
                                                                    "predictions": spec.predictions})
