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


rule chi2:
    input:
        widths=paths.chi2_widths_file(CFG.tag),
        test=paths.dataset_file(CFG.tag, "test"),
    output:
        **{sample: paths.assignment_file(CFG.tag, "chi2_{n_jets}", sample) for sample in CFG.samples},
    log:
        f"{RESULTS}/logs/chi2/chi2_{{n_jets}}.log",
    params:
        config=tracked_config("chi2"),
    threads: 1
    resources:
        mem_mb=4000,
    script:
        "../scripts/chi2.py"


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


rule klfitter:
    input:
        transfer_functions=paths.transfer_functions_file(CFG.tag),
        test=paths.dataset_file(CFG.tag, "test"),
    output:
        **{sample: paths.assignment_file(CFG.tag, "klfitter_{n_jets}", sample) for sample in CFG.samples},
    log:
        f"{RESULTS}/logs/klfitter/klfitter_{{n_jets}}.log",
    params:
        config=tracked_config("klfitter"),
    threads: 2
    resources:
        mem_mb=6000,
    script:
        "../scripts/klfitter.py"
