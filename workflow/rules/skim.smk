rule skim:
    input:
        event_inputs,
    output:
        skim=paths.skim_file(CFG.tag, "{sample}"),
        cutflow=paths.cutflow_file(CFG.tag, "{sample}"),
    log:
        f"{RESULTS}/logs/skim/{{sample}}.log",
    params:
        config=tracked_config("skim"),
        files=lambda wc: paths.event_files(CFG, wc.sample),
    threads: 1
    resources:
        mem_mb=3000,
    script:
        "../scripts/skim.py"
