"""ttjpa: jet-parton assignment for all-hadronic ttbar, from Delphes ntuples to figures.

    snakemake --cores all                               # embedded default (config/config.yaml)
    snakemake --cores all --configfile config/test.yaml # tiny, for tests: test.yaml alone
"""
from snakemake.utils import min_version, validate

min_version("9.0")


# The default config applies only when no --configfile is given: snakemake would otherwise
# deep-merge the user's config over it, planning samples and models the user never wrote.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/generate.smk"
include: "workflow/rules/skim.smk"
include: "workflow/rules/match.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/baselines.smk"
include: "workflow/rules/imported.smk"
include: "workflow/rules/evaluate.smk"


if CFG.qg is not None:

    include: "workflow/rules/qg.smk"


report: "workflow/report/workflow.rst"


rule all:
    input:
        all_outputs(),
    default_target: True


include: "workflow/rules/cluster.smk"  # last: the HTCondor names of every rule's resources
