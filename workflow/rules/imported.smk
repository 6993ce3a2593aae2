# Methods run outside the workflow (config key `imported`, e.g. the official SPANet package:
# config/spanet_official.yaml): their prediction files on this run's test set, in the common
# assignment format, so that every table and figure shows them beside the others.
for _name, _spec in CFG.imported.items():
    if not Path(_spec.predictions).exists():
        raise WorkflowError(f"imported.{_name}.predictions: {_spec.predictions} does not exist. Make it with "
                            "`make spanet-official` (trains the official SPANet on this run's datasets and predicts "
                            "its test set: benchmarks/spanet_official.py), or remove the entry.")


rule import_predictions:
    input:
        predictions=lambda wc: CFG.imported[wc.method].predictions,
        test=paths.dataset_file(CFG.tag, "test"),
    output:
        **{sample: paths.assignment_file(CFG.tag, "{method}", sample) for sample in CFG.samples},
    log:
        f"{RESULTS}/logs/import_predictions/{{method}}.log",
    params:
        config=tracked_config("import_predictions"),
    threads: 1
    resources:
        mem_mb=4000,
    wildcard_constraints:
        method="|".join(CFG.imported) or "NONE",
    script:
        "../scripts/import_predictions.py"
