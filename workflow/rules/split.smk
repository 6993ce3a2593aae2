rule split:
    input:
        matched=[paths.matched_file(CFG.tag, s) for s in CFG.matched_samples()],
        spanet_h5=[str(p) for spec in CFG.spanet_samples().values() for p in spec.paths()],
    output:
        **{name: paths.dataset_file(CFG.tag, name) for name in ("train", "val", "test")},
        event_info=paths.event_info_file(CFG.tag),
    log:
        f"{RESULTS}/logs/split.log",
    params:
        config=tracked_config("split"),
    threads: 1
    resources:
        mem_mb=4000,
    script:
        "../scripts/split.py"
