"""The config's defaults are the schema's alone, the typed config has no raw escape hatch, and its
provenance subsets are the ones the workflow has always hashed."""
from __future__ import annotations

import ast
import copy
import dataclasses
import json
import pickle
import re
from dataclasses import MISSING, asdict
from typing import Any

import pytest
import yaml

from analysis import config as configlib
from analysis.config import samples, sections, subsets
from analysis.core.provenance import config_hash

from .conftest import REPO

SCHEMA = yaml.safe_load(configlib.SCHEMA.read_text())
USER_FILE = str(REPO / "tests" / "samples" / "coffea_delphes.root")

# A config that leaves out every key with a schema default: one sample of each source with
# defaults (generated, files), a network of each architecture (saja_shape being the default
# Fig. 8 method) and a q/g study of two generated dijet samples.
MINIMAL = {
    "tag": "minimal",
    "seed": 1,
    "detector_card": "config/detector_cms.yaml",
    "samples": {
        "ttbar": {"source": "generate", "process": "ttbar_allhad", "events": 10, "chunks": 1},
        "user": {"source": "files", "files": [USER_FILE], "cross_section_pb": 1.0, "generated_events": 25},
    },
    "models": {"saja_shape": {"architecture": "saja", "features": ["pt"]},
               "spanet": {"architecture": "spanet", "features": ["pt"]}},
    "qg": {"samples": {name: {"source": "generate", "process": "qcd", "events": 10, "chunks": 1, "constituents": True}
                       for name in ("dijet", "dijet_b")},
           "mc": "dijet", "data": "dijet_b"},
}


def _resolve(node: dict) -> dict:
    """A schema node with its local `$ref` followed (the referrer's own keys win)."""
    if "$ref" not in node:
        return node
    target = SCHEMA
    for part in node["$ref"].removeprefix("#/").split("/"):
        target = target[part]
    return {**_resolve(target), **{k: v for k, v in node.items() if k != "$ref"}}


def schema_defaults(node: dict = SCHEMA, prefix: str = "") -> dict[str, Any]:
    """Dotted key -> default, for every key the schema fills in (an object whose keys have
    defaults is descended into; any other default is one value)."""
    out = {}
    for key, sub in node.get("properties", {}).items():
        sub = _resolve(sub)
        if any("default" in _resolve(s) for s in sub.get("properties", {}).values()):
            out.update(schema_defaults(sub, f"{prefix}{key}."))
        elif "default" in sub:
            out[f"{prefix}{key}"] = sub["default"]
    if node is SCHEMA:
        for name, definition in SCHEMA["$defs"].items():
            out.update(schema_defaults(definition, f"$defs.{name}."))
    return out


def split(fractions: tuple[float, float, float]) -> dict[str, float]:
    return dict(zip(("train", "val", "test"), fractions, strict=True))


def typed_values(cfg: configlib.Config) -> dict[str, Any]:
    """The typed counterpart of each schema default in `cfg`, in the schema's form."""
    qg, ttbar, user = cfg.qg, cfg.samples["ttbar"], cfg.samples["user"]
    chi2, klfitter = cfg.baselines.kinds["chi2"], cfg.baselines.kinds["klfitter"]
    reconstruction = cfg.evaluation.reconstruction
    return {
        "generation.batch_size": cfg.batch_size,
        "generation.progress": cfg.progress,
        **{f"selection.{key}": value for key, value in asdict(cfg.cuts).items()},
        "selection.read_step": cfg.read_step,
        "matching.dr_max": cfg.matching.dr_max,
        "matching.dr_scan": list(cfg.matching.dr_scan),
        "imported": {name: asdict(spec) for name, spec in cfg.imported.items()},
        "datasets.training_sample": cfg.datasets.training_sample,
        "datasets.fractions": split(cfg.datasets.fractions),
        "datasets.max_jets": cfg.datasets.max_jets,
        **{f"training.{key}": value for key, value in asdict(cfg.training).items()},
        "baselines.chi2.n_jets": list(chi2.n_jets),
        "baselines.chi2.btag_aware": chi2.btag_aware,
        "baselines.klfitter.n_jets": list(klfitter.n_jets),
        "baselines.klfitter.btag_aware": klfitter.btag_aware,
        "evaluation.luminosity_fb": cfg.evaluation.luminosity_fb,
        **{f"evaluation.reconstruction.{key}": value for key, value in asdict(reconstruction).items()},
        "evaluation.learning_curve.models": list(cfg.evaluation.learning_curve_models),
        "evaluation.learning_curve.fractions": list(cfg.evaluation.learning_curve_fractions),
        "generators": {name: cfg.samples[name] for name in cfg.generator_alternatives},
        "topology": str(cfg.topology.path.relative_to(REPO)),
        "qg.selection.jet_pt_min": qg.jet_pt_min,
        "qg.selection.jet_eta_max": qg.jet_eta_max,
        "qg.selection.balance_max": qg.balance_max,
        "qg.truth_delta_r": qg.truth_delta_r,
        "qg.max_constituents": qg.max_constituents,
        "qg.fractions": split(qg.fractions),
        "qg.flat_bins.pt": qg.flat_bins[0],
        "qg.flat_bins.eta": qg.flat_bins[1],
        "qg.pt_bins": list(qg.pt_bins),
        "qg.output_bins": qg.output_bins,
        "qg.working_points": list(qg.working_points),
        "qg.quantile_bins": list(qg.quantile_bins),
        "qg.bootstrap": qg.bootstrap,
        "qg.taggers": {name: {"architecture": spec.architecture, **spec.hyperparameters}
                       for name, spec in qg.taggers.items()},
        **{f"qg.training.{key}": value for key, value in asdict(qg.training).items()},
        **{f"$defs.generated_sample.{key}": getattr(ttbar, key) for key in
           ("shower", "tune", "pthat_bias_power", "pthat_bias_reference", "constituents")},
        "$defs.generated_sample.pythia_settings": list(ttbar.pythia_settings),
        "$defs.file_sample.btag_bit": user.btag_bit,
        **{f"$defs.saja_model.{key}": value for key, value in cfg.models["saja_shape"].hyperparameters.items()},
        **{f"$defs.spanet_model.{key}": value for key, value in cfg.models["spanet"].hyperparameters.items()},
    }


def test_every_schema_default_is_the_typed_value():
    """Each key the schema fills in reaches the typed config unchanged, and every default has
    a typed counterpart (a new schema default without one fails here). `matching.dr_scan` is
    0.05 ... 0.6, the schema's scan (a copy in the old config.py said 0.1 ... 0.4)."""
    defaults = schema_defaults()
    assert defaults.pop("models") == {} == configlib.from_dict(
        {**copy.deepcopy(MINIMAL), "models": {}, "evaluation": {"reconstruction": {"method": "chi2_6"}}}).models
    assert typed_values(configlib.from_dict(copy.deepcopy(MINIMAL))) == defaults
    assert defaults["matching.dr_scan"] == [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6]


TYPED_CLASSES = sorted({obj for module in (samples, sections) for obj in vars(module).values()
                        if dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__} | {configlib.Config},
                       key=lambda cls: cls.__name__)


@pytest.mark.parametrize("cls", TYPED_CLASSES, ids=lambda cls: cls.__name__)
def test_typed_sections_have_no_defaults_of_their_own(cls):
    """The schema is the only place a default is written: no field of a typed section has one."""
    assert [f.name for f in dataclasses.fields(cls) if f.default is not MISSING or f.default_factory is not MISSING] \
        == []


def test_no_raw_document(test_config):
    """Consumers read typed sections: the validated document sits inside the provenance subsets,
    which hand out only copies of subsets, and no module reads it or a `raw` attribute."""
    assert not hasattr(test_config, "raw") and "raw" not in {f.name for f in dataclasses.fields(test_config)}
    public = sorted(name for name in dir(test_config.provenance) if not name.startswith("_"))
    assert public == ["method_config", "network_config", "qg_config", "rule_config", "sample_config", "stage_config",
                      "tagger_config"]
    escape = re.compile(r"\.raw\b|\._document\b")
    sources = [*(REPO / "analysis").rglob("*.py"), *(REPO / "workflow").rglob("*.py"),
               *(REPO / "workflow").rglob("*.smk"), REPO / "Snakefile"]
    readers = [str(p.relative_to(REPO)) for p in sources
               if p != REPO / "analysis" / "config" / "subsets.py" and escape.search(p.read_text())]
    assert readers == []


def test_subsets_are_fresh_copies(test_config):
    subset = test_config.stage_config("split")
    subset["datasets"]["max_jets"] = 99
    subset["samples"]["ttbar"]["sample"]["events"] = 1
    assert test_config.stage_config("split") != subset
    copied = pickle.loads(pickle.dumps(test_config))
    assert copied == test_config and copied.rule_config("train", None, "saja") == test_config.rule_config(
        "train", None, "saja")


def test_stage_table_unions():
    assert subsets.stage_sections("skim") == ("selection",)
    assert subsets.stage_sections("baselines") == ("selection", "matching", "datasets", "baselines")
    assert subsets.stage_sections("evaluate") == (
        "selection", "matching", "datasets", "models", "training", "baselines", "evaluation")
    assert {stage for stage, spec in subsets.STAGES.items() if spec.per_sample} == {"skim", "match"}


def test_provenance_subsets_are_the_reference_ones(test_config):
    """Every stage, rule, sample and q/g subset of config/test.yaml has the top-level keys and the
    config hash of the known answer tests/expected/config_subsets_test_yaml.json: computed by
    analysis/config.py before this package replaced it, then regenerated for the intended
    changes of the redesign (the topology file's content in every stage subset, the per-method
    metrics and reconstruction rules), of the split (the split and the networks depend on the
    training sample alone; the new test_set rule on every sample) and of the training section's seed
    screening keys (candidates, screen_epochs). Regenerate it only for an intended change of test.yaml, the
    detector card, the topology or what a subset holds, and say so."""
    expected = json.loads((REPO / "tests" / "expected" / "config_subsets_test_yaml.json").read_text())
    for call, answer in expected.items():
        name, _, arguments = call.partition("(")
        subset = getattr(test_config, name)(*ast.literal_eval(f"({arguments[:-1]},)" if arguments[:-1] else "()"))
        assert (list(subset), config_hash(subset)) == (answer["keys"], answer["hash"]), call
    assert {f"stage_config({stage!r})" for stage in subsets.STAGES} <= set(expected)


def test_an_unknown_rule_is_refused_by_name(test_config):
    with pytest.raises(KeyError, match="rule 'no_such_rule' has no entry in analysis.config.subsets.RULES"):
        test_config.rule_config("no_such_rule")


def test_baseline_kinds_follow_the_schema():
    properties = SCHEMA["properties"]["baselines"]["properties"]
    assert sections.BASELINE_KINDS == tuple(kind for kind, spec in properties.items() if spec.get("type") == "object")


def test_baseline_methods_by_kind(test_config):
    methods = test_config.baseline_methods()
    assert {name: (m.kind, m.n_jets, m.btag_aware) for name, m in methods.items()} == {
        "chi2_6": ("chi2", 6, True), "chi2_7": ("chi2", 7, True), "klfitter_6": ("klfitter", 6, True),
        "klfitter_7": ("klfitter", 7, True)}
    assert test_config.methods() == [*test_config.models, "chi2_6", "chi2_7", "klfitter_6", "klfitter_7"]
    klfitter = test_config.baselines.kinds["klfitter"]
    assert klfitter.btag_aware and dict(klfitter.options) == {}  # the masses and widths are the topology's
    assert test_config.transfer_sample() == test_config.datasets.training_sample


def test_library_defaults_agree_with_the_schema():
    """The training loop and the generator keep defaults of their own for direct use (tests,
    benchmarks); every one that a config key also sets equals that key's schema default."""
    from analysis.core.training import TrainingSettings
    from analysis.events.pythia import GeneratorSettings

    defaults = schema_defaults()
    for cls, prefix in ((TrainingSettings, "training."), (GeneratorSettings, "$defs.generated_sample.")):
        mirrored = {f.name: f.default for f in dataclasses.fields(cls) if prefix + f.name in defaults}
        assert mirrored == {name: defaults[prefix + name] for name in mirrored}
        assert len(mirrored) >= 4, cls


def test_other_samples_retrain_nothing(test_config):
    """The split and the networks read only the training sample, so removing (or adding) a
    generator alternative changes the config of the test set and the evaluation, not theirs."""
    raw = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    raw["generators"] = {}
    fewer = configlib.from_dict(raw, where="test.yaml")
    for rule, model in (("split", None), ("train", "saja"), ("train", "spanet"), ("export_onnx", "saja_shape")):
        assert fewer.rule_config(rule, model=model) == test_config.rule_config(rule, model=model), rule
    for rule in ("test_set", "evaluate", "baseline"):
        assert fewer.rule_config(rule) != test_config.rule_config(rule), rule
