# Training reads only the training sample's sets, so it starts as soon as that sample is
# matched; the other samples (QCD, alternative generators) join the test set afterwards.
rule split:
    input:
        matched=[paths.matched_file(CFG.tag, s) for s in CFG.matched_samples() if s == TRAINING],
        spanet_h5=[str(p) for name, spec in CFG.spanet_samples().items() if name == TRAINING for p in spec.paths()],
    output:
        **{name: paths.dataset_file(CFG.tag, name) for name in ("train", "val", "test_nominal")},
        event_info=paths.event_info_file(CFG.tag),
    log:
        f"{RESULTS}/logs/split.log",
    params:
        config=tracked_config("split"),
    threads: 1
    priority: TRAINING_CHAIN
    resources:
        mem_mb=4000,
    script:
        "../scripts/split.py"


rule test_set:
    input:
        matched=[paths.matched_file(CFG.tag, s) for s in CFG.matched_samples()],
        spanet_h5=[str(p) for spec in CFG.spanet_samples().values() for p in spec.paths()],
    output:
        test=paths.dataset_file(CFG.tag, "test"),
    log:
        f"{RESULTS}/logs/test_set.log",
    params:
        config=tracked_config("test_set"),
    threads: 1
    resources:
        mem_mb=4000,
    script:
        "../scripts/test_set.py"
