from analysis import methods


rule chi2_widths:
    input:
        train=paths.dataset_file(CFG.tag, "train"),
    output:
        widths=paths.chi2_widths_file(CFG.tag),
    log:
        f"{RESULTS}/logs/chi2_widths.log",
    params:
        config=tracked_config("chi2_widths"),
    threads: 1
    script:
        "../scripts/chi2_widths.py"


rule transfer_functions:
    input:
        dataset=paths.transfer_dataset(CFG),
    output:
        json=paths.transfer_functions_file(CFG.tag),
        figure=paths.transfer_functions_file(CFG.tag).replace(".json", ".png"),
    log:
        f"{RESULTS}/logs/transfer_functions.log",
    params:
        config=tracked_config("transfer_functions"),
    threads: 1
    script:
        "../scripts/transfer_functions.py"


# Every baseline method of the config (`<kind>_<N>`, `<kind>_<N>_nobtag`: analysis.config.BaselineMethod),
# whatever its kind in analysis.methods.REGISTRY: its calibration file (written by its kind's fitting
# rule above), threads and memory are its registry entry's, so a new baseline needs no rule here
# but the one fitting its calibration.
rule baseline:
    input:
        calibration=lambda wc: paths.calibration_file(CFG.tag, CFG.method_kind(wc.baseline)),
        test=paths.dataset_file(CFG.tag, "test"),
    output:
        **{sample: paths.assignment_file(CFG.tag, "{baseline}", sample) for sample in CFG.samples},
    log:
        f"{RESULTS}/logs/baselines/{{baseline}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/baselines/{{baseline}}.tsv"
    params:
        config=tracked_config("baseline"),
    threads: lambda wc: methods.get(CFG.method_kind(wc.baseline)).threads
    resources:
        mem_mb=lambda wc: methods.get(CFG.method_kind(wc.baseline)).mem_mb,
    script:
        "../scripts/baseline.py"
