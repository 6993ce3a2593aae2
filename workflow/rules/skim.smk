def skim_inputs(wc):
    """A sample's Delphes files; generated chunks also bring their metadata (normalisation)."""
    files = paths.event_files(CFG, wc.sample)
    if wc.sample in CFG.generated():
        return files + [f + META_SUFFIX for f in files]
    return files + [paths.check_input_report(CFG.tag, wc.sample)]


rule skim:
    input:
        skim_inputs,
    output:
        skim=paths.skim_file(CFG.tag, "{sample}"),
        cutflow=paths.cutflow_file(CFG.tag, "{sample}"),
    log:
        f"{RESULTS}/logs/skim/{{sample}}.log",
    params:
        files=lambda wc: paths.event_files(CFG, wc.sample),
    threads: 1
    resources:
        mem_mb=3000,
    script:
        "../scripts/skim.py"
