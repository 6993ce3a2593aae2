"""The config subsets that artifacts depend on: hashed into every .meta.json and passed by each
rule as a param, so that editing the config reruns exactly what the edit feeds.

They are cut from the validated config document (the user's keys with the schema's defaults
filled in), not rebuilt from the typed sections: provenance records what was configured, number
for number as written (30, not 30.0; a label only where one was given), and stays the same when
the typed layer changes. The document lives here only, frozen, and every subset handed out is a
fresh copy."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from analysis import topology
from analysis.config.sections import DISPLAY_KEYS


@dataclass(frozen=True)
class Stage:
    """A stage of the workflow as provenance sees it: the config sections it reads itself and
    the stages whose outputs it reads; what its artifacts depend on is the union."""

    sections: tuple[str, ...]
    upstream: tuple[str, ...] = ()
    per_sample: bool = False
    """Whether its jobs run one sample each (and depend on that sample alone)."""
    training_sample_only: bool = False
    """Whether its outputs depend on the training sample alone (the split and the networks
    trained on it), so that adding or editing another sample retrains nothing."""


STAGES: dict[str, Stage] = {
    "skim": Stage(("selection",), per_sample=True),
    "match": Stage(("matching",), upstream=("skim",), per_sample=True),
    "split": Stage(("datasets",), upstream=("match",), training_sample_only=True),
    "test_set": Stage(("datasets",), upstream=("match",)),
    "train": Stage(("models", "training"), upstream=("split",), training_sample_only=True),
    "baselines": Stage(("baselines",), upstream=("split",)),
    "evaluate": Stage(("evaluation",), upstream=("train", "baselines")),
}


def stage_sections(stage: str) -> tuple[str, ...]:
    """The sections a stage's outputs depend on: those of its upstream stages (upstream first,
    each once), then its own."""
    sections: list[str] = []
    for upstream in STAGES[stage].upstream:
        sections += [s for s in stage_sections(upstream) if s not in sections]
    return (*sections, *STAGES[stage].sections)


class Provenance:
    """The validated config document, read-only, and the subsets of it that each stage's and
    each rule's outputs depend on."""

    def __init__(self, document: Mapping[str, Any], detector: Mapping[str, Any], topology_path: Path):
        self._document = _freeze(document)
        self._detector = _freeze(detector)
        self._topology_path = topology_path

    def __reduce__(self):
        """Pickled as the plain document (read-only mappings do not pickle), e.g. for a process pool."""
        return Provenance, (_thaw(self._document), _thaw(self._detector), self._topology_path)

    def sample_config(self, sample: str) -> dict:
        """What a sample's artifacts depend on: its entry and the master seed; for a generated
        sample also the detector card and the generator's batch size."""
        doc = self._document
        spec = {**doc["samples"], **doc["generators"], **doc.get("qg", {}).get("samples", {})}[sample]
        subset = {"seed": doc["seed"], "sample": spec}
        if spec["source"] == "generate":
            subset["detector"] = self._detector
            subset["generation"] = {"batch_size": doc["generation"]["batch_size"]}
        return _thaw(subset)

    def stage_config(self, stage: str, sample: str | None = None) -> dict:
        """The sections of `stage_sections(stage)`, the topology file's content (its resonance
        masses and widths only where the fits and the evaluation read them), and one sample's
        subset (a per-sample job), the training sample's (the split and the networks) or every
        analysis sample's."""
        subset = {key: _thaw(self._document[key]) for key in stage_sections(stage)}
        subset["topology"] = topology.load(self._topology_path).provenance(masses=stage in ("baselines", "evaluate"))
        if sample is not None:
            subset["sample"] = self.sample_config(sample)
        elif STAGES[stage].training_sample_only:
            training = self._document["datasets"]["training_sample"]
            subset["samples"] = {training: self.sample_config(training)}
        else:
            subset["samples"] = {name: self.sample_config(name) for name in self._analysis_samples()}
        return subset

    def qg_config(self, sample: str | None = None) -> dict:
        """What a q/g artifact depends on: the study's settings and its sample(s)."""
        study = self._document["qg"]
        names = [sample] if sample is not None else list(study["samples"])
        return {"qg": {k: _thaw(v) for k, v in study.items() if k != "samples"},
                "samples": {name: self.sample_config(name) for name in names}}

    def network_config(self, model: str) -> dict:
        """What one network's training, predictions, export and attention maps depend on: the
        split, its own entry (not the other networks') and the training loop."""
        entry = {k: v for k, v in self._document["models"][model].items() if k not in DISPLAY_KEYS}
        return {**self.stage_config("split"), "model": _thaw(entry), "training": _thaw(self._document["training"])}

    def _imported_config(self, method: str) -> dict:
        """What an imported method's assignments depend on: the test set and its own entry (the
        prediction file itself is the rule's input)."""
        entry = {k: v for k, v in self._document["imported"][method].items() if k not in DISPLAY_KEYS}
        return {**self.stage_config("test_set"), "imported": _thaw(entry)}

    def method_config(self, method: str) -> dict:
        """What one method's assignments (and so its metrics) depend on: a network's own subset,
        an imported method's, or the baselines' stage, so that editing one method recomputes that
        method alone."""
        if method in self._document["models"]:
            return self.network_config(method)
        if method in self._document["imported"]:
            return self._imported_config(method)
        return self.stage_config("baselines")

    def tagger_config(self, tagger: str) -> dict:
        """What one q/g tagger's training and scores depend on: the study with only that tagger."""
        study = self.qg_config()
        return {**study, "qg": {**study["qg"], "taggers": {tagger: _thaw(self._document["qg"]["taggers"][tagger])}}}

    def rule_config(self, rule: str, sample: str | None = None, model: str | None = None) -> dict:
        """The subset a rule's outputs depend on (RULES), given the job's sample and model (or
        q/g tagger) wildcards."""
        if rule not in RULES:
            raise KeyError(f"rule {rule!r} has no entry in analysis.config.subsets.RULES: add the config subset "
                           "its outputs depend on")
        subset = RULES[rule]
        if subset in STAGES:
            return self.stage_config(subset, sample if STAGES[subset].per_sample else None)
        if subset == "sample":
            return self.sample_config(sample)
        if subset == "network":
            return self.network_config(model)
        if subset == "method":
            return self.method_config(model)
        if subset == "reconstruction":
            evaluation = self._document["evaluation"]
            return {**self.method_config(evaluation["reconstruction"]["method"]), "evaluation": _thaw(evaluation)}
        if subset == "qg":
            return self.qg_config(sample)
        return self.tagger_config(model)

    def _analysis_samples(self) -> list[str]:
        return [*self._document["samples"], *self._document["generators"]]


RULES: dict[str, str] = {
    "generate": "sample", "check_input": "sample",
    "skim": "skim", "match": "match", "split": "split", "test_set": "test_set",
    "train": "network", "predict": "network", "export_onnx": "network", "attention": "network",
    "chi2_widths": "baselines", "transfer_functions": "baselines", "baseline": "baselines",
    "import_predictions": "method", "method_metrics": "method", "reconstruction": "reconstruction",
    "evaluate": "evaluate", "generator_study": "evaluate", "learning_curve": "evaluate",
    "qg_samples": "qg", "qg_calibrate": "qg", "qg_figures": "qg", "qg_train": "qg_tagger", "qg_score": "qg_tagger",
}
"""Rule -> the subset of its outputs: a stage of STAGES (with the job's sample for a per-sample
stage), `sample` (sample_config), `network` (network_config), `method` (method_config of the
job's method), `reconstruction` (the Fig. 8 method's and the evaluation section), `qg` (qg_config,
of the job's sample where it has one) or `qg_tagger` (tagger_config). The figures take their
study's (analysis.plotting.figures.STUDY_CONFIG). The rule `baseline` assigns with every baseline
kind (its `kind` wildcard): each kind's artifacts record the whole baselines stage, as the
method_metrics of a baseline do (method_config)."""


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({key: _freeze(v) for key, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _thaw(v) for key, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value
