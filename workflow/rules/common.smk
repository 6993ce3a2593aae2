# Config typing, paths and target lists live in analysis/ (tested); this file only binds them.
from analysis import config as configlib
from analysis import paths
from analysis.provenance import META_SUFFIX

CFG = configlib.from_dict(config, where="config")
RESULTS = paths.results_dir(CFG.tag)


wildcard_constraints:
    sample="|".join(CFG.event_samples()) or "NONE",
    chunk=r"\d+",
    model="|".join(CFG.models) or "NONE",
    n_jets=r"\d+",


def all_outputs():
    return paths.all_targets(CFG)
