rule train:
    input:
        train=paths.dataset_file(CFG.tag, "train"),
        val=paths.dataset_file(CFG.tag, "val"),
    output:
        model=paths.model_dir(CFG.tag, "{model}") + "/model.pt",
        history=paths.model_dir(CFG.tag, "{model}") + "/history.json",
    log:
        f"{RESULTS}/logs/train/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{model}}.tsv"
    params:
        config=tracked_config("train"),
    threads: 8  # at most --cores locally; what a cluster job asks for (set-threads to change)
    priority: TRAINING_CHAIN
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=720,
    script:
        "../scripts/train.py"


use rule train as train_fraction with:
    output:
        model=paths.fraction_model_dir(CFG.tag, "{model}", "{fraction}") + "/model.pt",
        history=paths.fraction_model_dir(CFG.tag, "{model}", "{fraction}") + "/history.json",
    log:
        f"{RESULTS}/logs/train_fraction/{{model}}_{{fraction}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_fraction/{{model}}_{{fraction}}.tsv"
    wildcard_constraints:
        fraction=r"0\.\d+",
    priority: 0  # after the other samples' generation: the test set waits for those, not for these


rule predict:
    input:
        model=paths.model_dir(CFG.tag, "{model}") + "/model.pt",
        test=paths.dataset_file(CFG.tag, "test"),
    output:
        **{sample: paths.assignment_file(CFG.tag, "{model}", sample) for sample in CFG.samples},
    log:
        f"{RESULTS}/logs/predict/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/predict/{{model}}.tsv"
    params:
        config=tracked_config("predict"),
    threads: 1
    resources:
        mem_mb=4000,
    script:
        "../scripts/predict.py"


rule export_onnx:
    input:
        model=paths.model_dir(CFG.tag, "{model}") + "/model.pt",
        test=paths.dataset_file(CFG.tag, "test"),
    output:
        onnx=paths.model_dir(CFG.tag, "{model}") + "/model.onnx",
    log:
        f"{RESULTS}/logs/export_onnx/{{model}}.log",
    params:
        config=tracked_config("export_onnx"),
    threads: 1
    script:
        "../scripts/export_onnx.py"
