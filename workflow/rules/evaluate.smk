from analysis.plotting.names import FIGURES


rule evaluate:
    input:
        assignments=[paths.assignment_file(CFG.tag, m, s) for m in CFG.methods() for s in CFG.samples],
        test=paths.dataset_file(CFG.tag, "test"),
        cutflows=[paths.cutflow_file(CFG.tag, s) for s in CFG.matched_samples()],
    output:
        metrics=paths.metrics_file(CFG.tag),
        md=report(paths.metrics_table(CFG.tag, "md"), category="Tables",
                  caption="../report/tables.rst"),
        tex=paths.metrics_table(CFG.tag, "tex"),
    log:
        f"{RESULTS}/logs/evaluate.log",
    params:
        config=tracked_config("evaluate"),
    threads: 1
    script:
        "../scripts/evaluate.py"


rule figures:
    input:
        metrics=paths.metrics_file(CFG.tag),
        tables=[paths.matching_tables(CFG.tag, s) for s in CFG.matched_samples()],
        attention=[paths.attention_file(CFG.tag, m) for m in CFG.networks_with("attention")],
        benchmarks=paths.benchmark_results(),
    output:
        **{name: report(paths.figure_file(CFG.tag, name), category=category, caption=f"../report/{name}.rst")
           for name, category in FIGURES.items()},
        **{f"{name}_pdf": paths.figure_file(CFG.tag, name, "pdf") for name in FIGURES},
    log:
        f"{RESULTS}/logs/figures.log",
    params:
        config=tracked_config("figures"),
    threads: 1
    script:
        "../scripts/figures.py"


rule attention:
    input:
        model=paths.model_dir(CFG.tag, "{model}") + "/model.pt",
        test=paths.dataset_file(CFG.tag, "test"),
    output:
        paths.attention_file(CFG.tag, "{model}"),
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
        md=report(paths.generator_study(CFG.tag, "md"), category="Generators", caption="../report/generators.rst"),
    log:
        f"{RESULTS}/logs/generator_study.log",
    params:
        config=tracked_config("generator_study"),
    threads: 1
    script:
        "../scripts/generator_study.py"
