rule generate:
    output:
        events=paths.chunk_file(CFG.tag, "{sample}", "{chunk}"),
        meta=paths.chunk_file(CFG.tag, "{sample}", "{chunk}") + META_SUFFIX,
    log:
        f"{RESULTS}/logs/generate/{{sample}}/chunk{{chunk}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/generate/{{sample}}/chunk{{chunk}}.tsv"
    params:
        config=tracked_config("generate"),
    threads: 1
    priority: on_training_chain
    resources:
        mem_mb=2000,
        runtime=120,
    script:
        "../scripts/generate.py"


rule check_input:
    input:
        files=lambda wc: [str(p) for p in CFG.from_files()[wc.sample].paths()],
    output:
        report=paths.check_input_report(CFG.tag, "{sample}"),
    log:
        f"{RESULTS}/logs/check_input/{{sample}}.log",
    params:
        config=tracked_config("check_input"),
    threads: 1
    script:
        "../scripts/check_input.py"
