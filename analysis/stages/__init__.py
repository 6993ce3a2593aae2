"""One module per rules file (workflow/rules/<name>.smk -> analysis/stages/<name>.py), holding the
`run_<rule>(cfg, input, output, wildcards)` entry point of each of its rules: they read the
rule's files by name, call the algorithms and write each artifact with its provenance
(analysis.core.provenance.stage_run). Only workflow scripts and the CLI import this package."""
