rule split:
    input:
        expand(paths.matched_file(CFG.tag, "{sample}"), sample=list(CFG.samples)),
    output:
        **{name: paths.dataset_file(CFG.tag, name) for name in ("train", "val", "test")},
        event_info=paths.event_info_file(CFG.tag),
    log:
        f"{RESULTS}/logs/split.log",
    threads: 1
    resources:
        mem_mb=4000,
    script:
        "../scripts/split.py"
