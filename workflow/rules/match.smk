rule match:
    input:
        skim=paths.skim_file(CFG.tag, "{sample}"),
    output:
        matched=paths.matched_file(CFG.tag, "{sample}"),
        tables=paths.matching_tables(CFG.tag, "{sample}"),
    log:
        f"{RESULTS}/logs/match/{{sample}}.log",
    params:
        config=tracked_config("match"),
    threads: 1
    priority: on_training_chain
    script:
        "../scripts/match.py"
