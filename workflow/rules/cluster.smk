# Cluster submission. Rules declare snakemake's resource names: threads, mem_mb, runtime (minutes)
# and gpu; profiles/*/config.yaml add defaults (default-resources) and site overrides
# (set-resources, set-threads). The SLURM plugin reads these names itself (threads ->
# --cpus-per-task, mem_mb -> --mem, runtime -> -t, gpu -> --gpus); the HTCondor plugin reads
# threads (request_cpus) but otherwise only HTCondor's own names. This file, included after every
# rule, gives each rule those names from its final resources (own, default and set-resources
# together), unless the rule or the profile set them: a mem_mb raised in a profile raises the
# HTCondor memory request too.
from snakemake.resources import Resource, TBDString

HTCONDOR_NAMES = {
    "request_memory": ("mem_mb", 1),  # MB, HTCondor's unit for a bare number
    "request_gpus": ("gpu", 1),
    "allowed_execute_duration": ("runtime", 60),  # seconds; HTCondor holds a job that runs longer
}


def derived_resource(name, source, factor):
    """`source` (a snakemake Resource, a number or an expression) times `factor`, as resource `name`."""
    if not source.is_evaluable():
        return Resource(name, source.value * factor)

    def evaluate(wildcards, **kwargs):
        value = source.evaluate(wildcards, **kwargs).value
        return value if isinstance(value, TBDString) else value * factor

    return Resource(name, evaluate)


for _rule in workflow.rules:
    for _name, (_source, _factor) in HTCONDOR_NAMES.items():
        _value = _rule.resources.get(_source)
        if _name not in _rule.resources and (_value.is_evaluable() or _value.value is not None):
            _rule.resources[_name] = derived_resource(_name, _value, _factor)
