from analysis.core.provenance import config_hash
from analysis.plotting.figures import FIGURES, STUDY_CONFIG

RECONSTRUCTION_METHOD = CFG.evaluation.reconstruction.method


rule method_metrics:
    input:
        assignments=lambda wc: [paths.assignment_file(CFG.tag, wc.method, s) for s in CFG.samples],
        test=paths.dataset_file(CFG.tag, "test"),
    output:
        metrics=paths.method_metrics_file(CFG.tag, "{method}"),
    log:
        f"{RESULTS}/logs/method_metrics/{{method}}.log",
    params:
        config=tracked_config("method_metrics"),
    threads: 1
    script:
        "../scripts/method_metrics.py"


rule reconstruction:
    input:
        assignments=[paths.assignment_file(CFG.tag, RECONSTRUCTION_METHOD, s) for s in CFG.samples],
        test=paths.dataset_file(CFG.tag, "test"),
        cutflows=[paths.cutflow_file(CFG.tag, s) for s in CFG.matched_samples()],
    output:
        reconstruction=paths.reconstruction_file(CFG.tag),
    log:
        f"{RESULTS}/logs/reconstruction.log",
    params:
        config=tracked_config("reconstruction"),
    threads: 1
    script:
        "../scripts/reconstruction.py"


rule evaluate:
    input:
        methods=[paths.method_metrics_file(CFG.tag, m) for m in CFG.methods()],
        reconstruction=paths.reconstruction_file(CFG.tag),
    output:
        metrics=paths.metrics_file(CFG.tag),
        md=paths.metrics_table(CFG.tag, "md"),
        tex=paths.metrics_table(CFG.tag, "tex"),
        html=report(paths.metrics_table(CFG.tag, "html"), category="Tables", caption="../report/tables.rst"),
    log:
        f"{RESULTS}/logs/evaluate.log",
    params:
        config=tracked_config("evaluate"),
    threads: 1
    script:
        "../scripts/evaluate.py"


rule figure:
    input:
        unpack(lambda wc: paths.figure_inputs(CFG, wc.figure)),
    output:
        png=report(paths.figure_file(CFG.tag, "{figure}"), category=lambda wc: FIGURES[wc.figure].category,
                   caption="../report/figure.rst"),
        pdf=paths.figure_file(CFG.tag, "{figure}", "pdf"),
    log:
        f"{RESULTS}/logs/figure/{{figure}}.log",
    params:
        config=lambda wc: config_hash(CFG.rule_config(STUDY_CONFIG[FIGURES[wc.figure].study])),
    threads: 1
    script:
        "../scripts/figure.py"


rule learning_curve:
    input:
        models=paths.learning_curve_models(CFG).values(),
        test=paths.dataset_file(CFG.tag, "test"),
        baselines=[paths.method_metrics_file(CFG.tag, m) for m in CFG.baseline_methods()],
    output:
        curve=paths.learning_curve_file(CFG.tag),
    log:
        f"{RESULTS}/logs/learning_curve.log",
    params:
        config=tracked_config("learning_curve"),
    threads: 1
    script:
        "../scripts/learning_curve.py"


rule attention:
    input:
        model=paths.model_dir(CFG.tag, "{model}") + "/model.pt",
        test=paths.dataset_file(CFG.tag, "test"),
    output:
        attention=paths.attention_file(CFG.tag, "{model}"),
    log:
        f"{RESULTS}/logs/attention/{{model}}.log",
    params:
        config=tracked_config("attention"),
    threads: 1
    script:
        "../scripts/attention.py"


rule generator_study:
    input:
        metrics=paths.metrics_file(CFG.tag),
        tables=[paths.matching_tables(CFG.tag, s) for s in CFG.generators() if s in CFG.matched_samples()],
    output:
        json=paths.generator_study(CFG.tag),
        md=paths.generator_study(CFG.tag, "md"),
        html=report(paths.generator_study(CFG.tag, "html"), category="Generators", caption="../report/generators.rst"),
    log:
        f"{RESULTS}/logs/generator_study.log",
    params:
        config=tracked_config("generator_study"),
    threads: 1
    script:
        "../scripts/generator_study.py"
