rule skim:
    input:
        unpack(event_inputs),
    output:
        skim=paths.skim_file(CFG.tag, "{sample}"),
        cutflow=paths.cutflow_file(CFG.tag, "{sample}"),
    log:
        f"{RESULTS}/logs/skim/{{sample}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/skim/{{sample}}.tsv"
    params:
        config=tracked_config("skim"),
    threads: 1
    priority: on_training_chain
    resources:
        mem_mb=3000,
    script:
        "../scripts/skim.py"
