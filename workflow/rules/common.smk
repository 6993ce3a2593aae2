# Config typing, paths and target lists live in analysis/ (tested); this file only binds them.
from analysis import config as configlib
from analysis import paths
from analysis.datasets import check_model_features
from analysis.core.provenance import META_SUFFIX

for _configfile in workflow.configfiles:
    configlib.read_yaml(_configfile)  # refuses keys written twice, which snakemake's loader takes silently
CFG = configlib.from_dict(config, where="config")
check_model_features(CFG)  # refuse, before any job, networks whose inputs a user sample lacks
RESULTS = paths.results_dir(CFG.tag)
TRAINING = CFG.datasets.training_sample
TRAINING_CHAIN = 10
"""Priority of the jobs that lead to the networks' training (the longest jobs of a run): they go
first, and the other samples' generation fills the cores around them."""


def on_training_chain(wc):
    """`priority:` of the per-sample jobs: TRAINING_CHAIN for the training sample's."""
    return TRAINING_CHAIN if wc.sample == TRAINING else 0


onstart:
    # the executor is known only now: a local run must have the GPU its training sections ask for
    if workflow.local_exec:
        from analysis.core.training import check_devices

        check_devices({"training.device": CFG.training.device,
                       "qg.training.device": CFG.qg.training.device if CFG.qg else "auto"})


wildcard_constraints:
    sample="|".join(CFG.event_samples()) or "NONE",
    chunk=r"\d+",
    model="|".join(CFG.models) or "NONE",
    method="|".join(CFG.methods()) or "NONE",
    baseline="|".join(CFG.baseline_methods()) or "NONE",
    figure="|".join(paths.figures(CFG)),


def tracked_config(rule):
    """The hash of the config subset `rule`'s outputs depend on (the one in their .meta.json), as a
    param: snakemake reruns a job whose params changed, so a config edit reruns what it feeds."""
    from analysis.core.provenance import config_hash

    def param(wc):
        model = getattr(wc, "model", None) or getattr(wc, "tagger", None) or getattr(wc, "method", None)
        return config_hash(CFG.rule_config(rule, getattr(wc, "sample", None), model))

    return param


def all_outputs():
    return paths.all_targets(CFG)


def event_inputs(wc):
    """A sample's Delphes files (`files`, for skim and qg_samples); generated chunks also bring
    their metadata (normalisation), user files their check_input report (`checked`)."""
    files = paths.event_files(CFG, wc.sample)
    if wc.sample in CFG.generated():
        return {"files": files, "checked": [f + META_SUFFIX for f in files]}
    return {"files": files, "checked": paths.check_input_report(CFG.tag, wc.sample)}
