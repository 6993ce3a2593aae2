# The quark/gluon tagger study (seed 004): dijet jets -> taggers -> matrix method / jet topics.
# Its figures are jobs of the `figure` rule (evaluate.smk).


wildcard_constraints:
    tagger="|".join(CFG.qg.taggers),


rule qg_samples:
    input:
        unpack(event_inputs),
    output:
        jets=paths.qg_sample_file(CFG.tag, "{sample}"),
    log:
        f"{RESULTS}/logs/qg_samples/{{sample}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/qg_samples/{{sample}}.tsv"
    params:
        config=tracked_config("qg_samples"),
    threads: 1
    resources:
        mem_mb=6000,
    script:
        "../scripts/qg_samples.py"


rule qg_train:
    input:
        jets=paths.qg_sample_file(CFG.tag, CFG.qg.mc),
    output:
        model=paths.qg_model_dir(CFG.tag, "{tagger}") + "/model.pt",
        history=paths.qg_model_dir(CFG.tag, "{tagger}") + "/history.json",
    log:
        f"{RESULTS}/logs/qg_train/{{tagger}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/qg_train/{{tagger}}.tsv"
    params:
        config=tracked_config("qg_train"),
    threads: 8  # at most --cores locally; what a cluster job asks for (set-threads to change)
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=720,
    script:
        "../scripts/qg_train.py"


rule qg_score:
    input:
        model=paths.qg_model_dir(CFG.tag, "{tagger}") + "/model.pt",
        jets=[paths.qg_sample_file(CFG.tag, s) for s in (CFG.qg.mc, CFG.qg.data)],
    output:
        scores=paths.qg_scores_file(CFG.tag, "{tagger}"),
    log:
        f"{RESULTS}/logs/qg_score/{{tagger}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/qg_score/{{tagger}}.tsv"
    params:
        config=tracked_config("qg_score"),
    threads: 8  # at most --cores locally; what a cluster job asks for (set-threads to change)
    resources:
        mem_mb=6000,
    script:
        "../scripts/qg_score.py"


rule qg_calibrate:
    input:
        jets=[paths.qg_sample_file(CFG.tag, s) for s in (CFG.qg.mc, CFG.qg.data)],
        scores=[paths.qg_scores_file(CFG.tag, t) for t in CFG.qg.taggers],
    output:
        json=paths.qg_calibration_file(CFG.tag),
        md=paths.qg_calibration_file(CFG.tag, "md"),
        html=report(paths.qg_calibration_file(CFG.tag, "html"), category="Quark/gluon",
                    caption="../report/qg_tables.rst"),
    log:
        f"{RESULTS}/logs/qg_calibrate.log",
    params:
        config=tracked_config("qg_calibrate"),
    threads: 1
    script:
        "../scripts/qg_calibrate.py"

