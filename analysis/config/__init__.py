"""The workflow configuration as typed objects, after JSON-schema validation.

Snakemake validates `config` with the same schema at start-up (Snakefile); this package adds what
a schema cannot say (input files exist, pTHat bins make sense, names refer to samples and
methods) and types every section, so that the Snakefile and the CLI share one tested
implementation:

    schema.py    validation with the schema's defaults filled in (the only defaults), messages,
                 the strict YAML reader
    samples.py   generated, user-file and SPANet-format samples
    sections.py  the other sections (cuts, matching, datasets, training, networks, baselines,
                 evaluation, the q/g study)
    seeds.py     per-chunk seeds
    features.py  the networks' input vocabulary (features, pairwise features, scalings) and the
                 stored columns each needs
    subsets.py   the config subsets hashed into provenance, cut from the validated document
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.config import seeds
from analysis.config.features import input_columns
from analysis.config.samples import (
    SPANET_H5_FEATURES,
    SPANET_ROLES,
    FileSample,
    GeneratedSample,
    Sample,
    SpanetSample,
    matching_paths,
)
from analysis.config.samples import build as build_sample
from analysis.config.schema import ROOT, SCHEMA, ConfigError, detector_card, read_yaml, topology_file, validate
from analysis.config.sections import (
    BASELINE_KINDS,
    BaselineMethod,
    Baselines,
    BaselineSpec,
    Cuts,
    Datasets,
    Evaluation,
    ImportedSpec,
    MassReconstruction,
    Matching,
    ModelSpec,
    QGStudy,
    Training,
    imported_specs,
    model_specs,
)
from analysis.config.subsets import Provenance
from analysis.topology import Topology
from analysis.topology import load as load_topology

__all__ = [
    "BASELINE_KINDS", "ROOT", "SPANET_H5_FEATURES", "SPANET_ROLES", "BaselineMethod", "BaselineSpec", "Baselines",
    "Config", "ConfigError", "Cuts", "Datasets", "Evaluation", "FileSample", "GeneratedSample", "MassReconstruction",
    "Matching", "ModelSpec", "QGStudy", "SCHEMA", "Sample", "SpanetSample", "Training", "from_dict", "load",
    "matching_paths", "read_yaml",
]


@dataclass(frozen=True)
class Config:
    """A validated config: typed sections, the samples, and the provenance subsets."""

    tag: str
    seed: int
    detector: dict
    """The detector card (validated against its own schema; typed by analysis.events.generate)."""
    samples: dict[str, Sample]
    """The analysis samples: those under `samples`, then the generator study's alternatives."""
    generator_alternatives: tuple[str, ...]
    """The generator study's alternative ttbar samples (`generators`), also in `samples`."""
    batch_size: int
    progress: bool
    cuts: Cuts
    read_step: int
    matching: Matching
    datasets: Datasets
    models: dict[str, ModelSpec]
    training: Training
    baselines: Baselines
    imported: dict[str, ImportedSpec]
    """Methods run outside the workflow, read from their prediction files (`imported`)."""
    evaluation: Evaluation
    qg: QGStudy | None
    qg_samples: dict[str, GeneratedSample | FileSample]
    topology: Topology
    """The event topology (`topology`): every stage takes the slots, classes, symmetries and fit
    masses from it."""
    provenance: Provenance = field(repr=False, compare=False)

    def event_samples(self) -> dict[str, Sample]:
        """Every sample with event files: the ttbar analysis's and the q/g study's."""
        return {**self.samples, **self.qg_samples}

    def generated(self) -> dict[str, GeneratedSample]:
        return {k: s for k, s in self.event_samples().items() if isinstance(s, GeneratedSample)}

    def from_files(self) -> dict[str, FileSample]:
        return {k: s for k, s in self.event_samples().items() if isinstance(s, FileSample)}

    def spanet_samples(self) -> dict[str, SpanetSample]:
        """The samples read from SPANet-format HDF5 files by the split (no skim, no match)."""
        return {k: s for k, s in self.samples.items() if isinstance(s, SpanetSample)}

    def matched_samples(self) -> list[str]:
        """The analysis samples with Delphes events: skimmed and matched, with a cutflow and
        matching tables (every sample but the SPANet-format datasets)."""
        return [name for name in self.samples if name not in self.spanet_samples()]

    def transfer_sample(self) -> str:
        """The sample whose matched jets give the KLFitter-style transfer functions."""
        return self.baselines.transfer_sample or self.datasets.training_sample

    def baseline_methods(self) -> dict[str, BaselineMethod]:
        """Every baseline method: name -> its kind, N leading jets and b-tag use."""
        return self.baselines.methods()

    def methods(self) -> list[str]:
        """Every method of the config: the networks, the baselines, then the imported methods."""
        return [*self.models, *self.baseline_methods(), *self.imported]

    def generators(self) -> list[str]:
        """The generator study's samples: the nominal (training) sample, then the alternatives."""
        return [self.datasets.training_sample, *self.generator_alternatives]

    def networks_with(self, ability: str) -> list[str]:
        """The networks whose architecture has `ability` in the methods registry ("onnx",
        "attention", "entropy_cut", "probabilities")."""
        from analysis import methods

        return [name for name, spec in self.models.items() if getattr(methods.get(spec.architecture), ability)]

    def method_kind(self, method: str) -> str:
        """The registry name (analysis.methods.REGISTRY) of a method of the config: a network's
        architecture, a baseline's kind."""
        if method in self.models:
            return self.models[method].architecture
        if method in self.imported:
            return self.imported[method].format
        if method not in self.baseline_methods():
            raise ValueError(f"{method!r} is not a method of this config; methods: {self.methods()}")
        return self.baseline_methods()[method].kind

    def method_label(self, method: str) -> str:
        """A method's name in legends and tables: a network's `label` (else its key), a baseline's
        registry display name, its jet count, and whether it ignores b-tags ("KLFitter-style, 7 jets",
        "chi^2, 9 jets, no b-tags")."""
        from analysis import methods

        if method in self.models:
            return self.models[method].label
        if method in self.imported:
            return self.imported[method].label
        baseline = self.baseline_methods()[method]
        return f"{methods.get(baseline.kind).display}, {baseline.n_jets} jets" + ("" if baseline.btag_aware
                                                                                  else ", no b-tags")

    def labels(self) -> dict[str, dict[str, str]]:
        """Every method's and analysis sample's display name (what the figures' legends show)."""
        return {"methods": {m: self.method_label(m) for m in self.methods()},
                "samples": {name: sample.label for name, sample in self.samples.items()}}

    def chunk_seeds(self, sample: str, chunk: int) -> tuple[int, int]:
        """(generator seed, detector-response seed) of one chunk (analysis.config.seeds)."""
        return seeds.chunk_seeds(self.seed, sample, chunk)

    def stage_config(self, stage: str, sample: str | None = None) -> dict:
        """The config subset a stage's artifacts depend on (analysis.config.subsets.STAGES)."""
        return self.provenance.stage_config(stage, sample)

    def rule_config(self, rule: str, sample: str | None = None, model: str | None = None) -> dict:
        """The config subset a rule's outputs depend on, as the workflow passes it to snakemake
        (a param, so that editing it reruns that rule and what depends on it, and nothing else;
        analysis.config.subsets.RULES)."""
        return self.provenance.rule_config(rule, sample, model)

    def qg_config(self, sample: str | None = None) -> dict:
        """The config subset a q/g artifact depends on: the study's settings and its sample(s)."""
        return self.provenance.qg_config(sample)

    def sample_config(self, sample: str) -> dict:
        """The config subset a sample's artifacts depend on."""
        return self.provenance.sample_config(sample)


def load(path: str | Path) -> Config:
    """Read, validate and type a config file (as `snakemake --configfile` would)."""
    data = read_yaml(path) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config file holds a YAML mapping of keys (tag, seed, samples, ...)")
    return from_dict(data, where=str(path))


def from_dict(data: dict[str, Any], where: str = "config", base: Path = ROOT) -> Config:
    """Validate `data` (filling in the schema's defaults, in place) and type it; `base` is the
    directory a relative `detector_card` is taken from."""
    validate(data, SCHEMA, where)
    detector = detector_card(data["detector_card"], where, base)
    topology_path = topology_file(data["topology"], where, base)
    clash = sorted(set(data["samples"]) & set(data["generators"]))
    if clash:
        raise ConfigError(f"{where}: key 'generators': {clash} are also under 'samples'; give the alternatives "
                          "their own names")
    samples = {name: build_sample(name, spec, where)
               for name, spec in {**data["samples"], **data["generators"]}.items()}
    datasets = Datasets.from_section(data["datasets"], samples, where)
    models = model_specs(data["models"])
    baselines = Baselines.from_section(data["baselines"], bool(load_topology(topology_path).pairs))
    imported = imported_specs(data["imported"])
    clash = sorted(set(imported) & {*models, *baselines.methods()})
    if clash:
        raise ConfigError(f"{where}: key 'imported': {clash} are also networks or baseline methods; give the "
                          "imported methods their own names")
    evaluation = Evaluation.from_section(data["evaluation"], [*models, *baselines.methods(), *imported], where,
                                         list(models))
    _check_spanet_samples(samples, datasets, models, baselines, where)
    qg, qg_samples = _qg(data, samples, where)
    return Config(
        tag=data["tag"],
        seed=data["seed"],
        detector=detector,
        samples=samples,
        generator_alternatives=tuple(data["generators"]),
        batch_size=data["generation"]["batch_size"],
        progress=data["generation"]["progress"],
        cuts=Cuts.from_section(data["selection"]),
        read_step=data["selection"]["read_step"],
        matching=Matching.from_section(data["matching"]),
        datasets=datasets,
        models=models,
        training=Training.from_section(data["training"]),
        baselines=baselines,
        imported=imported,
        evaluation=evaluation,
        qg=qg,
        qg_samples=qg_samples,
        topology=load_topology(topology_path),
        provenance=Provenance(data, detector, topology_path),
    )


def _qg(data: dict, analysis_samples: dict[str, Sample], where: str) -> tuple[QGStudy | None, dict]:
    """The q/g study and its samples, or (None, {}) when the config has no `qg` section."""
    if "qg" not in data:
        return None, {}
    section = data["qg"]
    clash = sorted(set(section["samples"]) & set(analysis_samples))
    if clash:
        raise ConfigError(f"{where}: key 'qg.samples': {clash} are also under 'samples' or 'generators'; "
                          "give the dijet samples their own names")
    samples = {name: build_sample(name, spec, where) for name, spec in section["samples"].items()}
    spanet = sorted(name for name, s in samples.items() if isinstance(s, SpanetSample))
    if spanet:
        raise ConfigError(f"{where}: key 'qg.samples': {spanet} are SPANet-format datasets; the q/g study needs "
                          "Delphes events with jet constituents (source: generate or files)")
    return QGStudy.from_section(section, samples, where), samples


def _check_spanet_samples(samples: dict[str, Sample], datasets: Datasets, models: dict[str, ModelSpec],
                          baselines: Baselines, where: str) -> None:
    """What SPANet-format datasets cannot do: roles outside the training sample, jet-shape
    inputs, and the transfer functions (no parton energies): those need a Delphes sample."""
    spanet = {name: s for name, s in samples.items() if isinstance(s, SpanetSample)}
    training = datasets.training_sample
    for name, sample in spanet.items():
        if sample.roles and name != training:
            raise ConfigError(f"{where}: key 'samples.{name}.roles': roles are for the training sample "
                              f"(datasets.training_sample = {training!r}); every other sample goes whole into the "
                              "test set: list its files under 'files'")
    if spanet:
        for name, spec in models.items():
            columns = input_columns(spec.features, spec.hyperparameters.get("pairwise", ()),
                                    spec.hyperparameters.get("triplet_masses", False))
            missing = [f for f in columns if f not in SPANET_H5_FEATURES]
            if missing:
                raise ConfigError(f"{where}: key 'models.{name}.features': {missing} are not in SPANet-format "
                                  f"datasets ({sorted(spanet)}); allowed values: {list(SPANET_H5_FEATURES)}")
    source = baselines.transfer_sample
    if source is not None and source not in samples:
        raise ConfigError(f"{where}: key 'baselines.klfitter.transfer_sample': {source!r} is not a sample; allowed "
                          f"values: {sorted(n for n in samples if n not in spanet)}")
    if source in spanet:
        raise ConfigError(f"{where}: key 'baselines.klfitter.transfer_sample': {source!r} is a SPANet-format "
                          "dataset without parton energies; name a ttbar sample with Delphes events "
                          f"(source: generate or files): {sorted(n for n in samples if n not in spanet)}")
    if source is None and training in spanet and baselines.kinds["klfitter"].n_jets:
        raise ConfigError(f"{where}: key 'baselines.klfitter.transfer_sample': the training sample {training!r} is "
                          "a SPANet-format dataset without parton energies, so the KLFitter-style transfer "
                          "functions need another sample: set it to a ttbar sample with Delphes events "
                          "(source: generate or files; under 'generators' it stays out of the headline metrics), "
                          "or set baselines.klfitter.n_jets: [] to run without the KLFitter-style baseline")
