rule generate:
    output:
        events=f"{RESULTS}/events/{{sample}}/chunk{{chunk}}.root",
        meta=f"{RESULTS}/events/{{sample}}/chunk{{chunk}}.root.meta.json",
    log:
        f"{RESULTS}/logs/generate/{{sample}}/chunk{{chunk}}.log",
    params:
        sample=lambda wc: wc.sample,
        chunk=lambda wc: int(wc.chunk),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    script:
        "../scripts/generate.py"


rule check_input:
    input:
        lambda wc: [str(p) for p in CFG.from_files()[wc.sample].paths()],
    output:
        f"{RESULTS}/events/{{sample}}/check_input.json",
    log:
        f"{RESULTS}/logs/check_input/{{sample}}.log",
    threads: 1
    script:
        "../scripts/check_input.py"
