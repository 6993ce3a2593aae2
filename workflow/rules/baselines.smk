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


# Every baseline of analysis.methods.REGISTRY: its calibration file (written by its fitting rule
# above), threads and memory are its registry entry's, so a new baseline needs no rule here but
# the one fitting its calibration.
rule baseline:
    input:
        calibration=lambda wc: paths.calibration_file(CFG.tag, wc.kind),
        test=paths.dataset_file(CFG.tag, "test"),
    output:
        **{sample: paths.assignment_file(CFG.tag, "{kind}_{n_jets}", sample) for sample in CFG.samples},
    log:
        f"{RESULTS}/logs/{{kind}}/{{kind}}_{{n_jets}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{kind}}/{{kind}}_{{n_jets}}.tsv"
    params:
        config=tracked_config("baseline"),
    threads: lambda wc: methods.get(wc.kind).threads
    resources:
        mem_mb=lambda wc: methods.get(wc.kind).mem_mb,
    wildcard_constraints:
        kind="|".join(methods.baseline_names()),
    script:
        "../scripts/baseline.py"
