"""The workflow configuration as typed objects, after JSON-schema validation.

Snakemake validates `config` with the same schema at start-up (Snakefile); this module adds
what a schema cannot say (input files exist, pTHat bins make sense) and derives per-chunk
settings and seeds, so that the Snakefile and the CLI share one tested implementation.
"""
from __future__ import annotations

import glob
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import yaml

from analysis import topology
from analysis.events.pythia import MAX_PYTHIA_SEED, GeneratorSettings, rejected_settings

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
DETECTOR_SCHEMA = ROOT / "workflow" / "schemas" / "detector.schema.yaml"


class ConfigError(ValueError):
    """A configuration problem, with the offending key and what is allowed."""


def matching_paths(patterns: tuple[str, ...] | list[str]) -> list[Path]:
    """The files the globs of a sample's config match, sorted, each once."""
    return sorted({Path(p) for pattern in patterns for p in glob.glob(pattern)})


def _require_matches(where: str, globs: list[tuple[str, str]]) -> None:
    """A ConfigError for the first (key, glob) that matches no file."""
    for key, pattern in globs:
        if not glob.glob(pattern):
            raise ConfigError(f"{where}: key {key!r}: no file matches {pattern!r}. Fix the path or glob (relative "
                              "paths are taken from the directory snakemake runs in).")


@dataclass(frozen=True)
class GeneratedSample:
    name: str
    process: str
    events: int
    chunks: int
    shower: str = "simple"
    tune: int = 14
    pthat_bins: tuple[tuple[float, float | None], ...] = ()
    pthat_bias_power: float = 0.0
    pthat_bias_reference: float = 100.0
    constituents: bool = False
    pythia_settings: tuple[str, ...] = ()
    label: str = ""

    source = "generate"
    btag_bit = 0  # the generator writes BTag as 0/1 (one working point)

    @property
    def bins(self) -> tuple[tuple[float | None, float | None], ...]:
        return self.pthat_bins or ((None, None),)

    @property
    def n_chunks(self) -> int:
        return self.chunks * len(self.bins)

    def chunk_events(self, chunk: int) -> tuple[int, int]:
        """(events in this chunk, number of the chunk's first event within the sample)."""
        in_bin = chunk % self.chunks
        base, extra = divmod(self.events, self.chunks)
        n = base + (in_bin < extra)
        first_in_bin = in_bin * base + min(in_bin, extra)
        return n, (chunk // self.chunks) * self.events + first_in_bin

    def chunk_bin(self, chunk: int) -> tuple[float | None, float | None]:
        return self.bins[chunk // self.chunks]


@dataclass(frozen=True)
class FileSample:
    name: str
    files: tuple[str, ...]
    cross_section_pb: float
    generated_events: int | None = None
    sum_of_weights: float | None = None
    label: str = ""
    btag_bit: int = 0

    source = "files"

    def paths(self) -> list[Path]:
        return matching_paths(self.files)


SPANET_ROLES = ("train", "val", "test")
SPANET_H5_FEATURES = ("pt", "eta", "phi", "mass", "btag", "pt_ht")
"""The jet inputs a SPANet-format dataset provides (no jet shapes: the layout has none)."""


@dataclass(frozen=True)
class SpanetSample:
    """A dataset already in SPANet's HDF5 layout (`INPUTS/Source`, `TARGETS/t1|t2`): jets and their
    jet-level targets, without Delphes events or partons, so it skips generation, skim and match.

    Either `files` (the training sample is split by the event hash, any other sample goes whole
    to the test set) or `roles` (train / val / test globs assigning whole files; without `val`
    the validation events are hashed out of the train files)."""

    name: str
    files: tuple[str, ...] = ()
    roles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    cross_section_pb: float | None = None
    label: str = ""

    source = "spanet_h5"

    def patterns(self) -> tuple[str, ...]:
        return self.files or tuple(p for role in SPANET_ROLES for p in self.roles.get(role, ()))

    def paths(self) -> list[Path]:
        return matching_paths(self.patterns())

    def role_paths(self) -> dict[str, list[Path]]:
        """The files of each role given (empty without `roles`)."""
        return {role: matching_paths(globs) for role, globs in self.roles.items()}


@dataclass(frozen=True)
class Cuts:
    """The CMS all-hadronic trigger selection (SAJA paper sec. 3); GeV."""

    jet_pt_min: float = 30.0
    jet_eta_max: float = 2.4
    n_jets_min: int = 6
    n_jets_pt_min: float = 40.0
    n_btag_min: int = 1
    ht_min: float = 450.0


@dataclass(frozen=True)
class Matching:
    dr_max: float = 0.3
    dr_scan: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4)


@dataclass(frozen=True)
class Datasets:
    training_sample: str = "ttbar"
    fractions: tuple[float, float, float] = (0.64, 0.16, 0.20)  # train, val, test
    max_jets: int = 20


@dataclass(frozen=True)
class Baselines:
    """The variants: one method `chi2_<N>` and one `klfitter_<N>` per N leading jets (the masses
    and widths of the fits are the topology's, analysis.topology)."""

    chi2_n_jets: tuple[int, ...] = (6, 7)
    chi2_btag_aware: bool = True
    klfitter_n_jets: tuple[int, ...] = (6, 7)
    klfitter_btag_aware: bool = True
    transfer_sample: str | None = None
    """The sample whose matched jets give the transfer functions (None: the training sample)."""

    def chi2_methods(self) -> dict[str, int]:
        return {f"chi2_{n}": n for n in self.chi2_n_jets}

    def klfitter_methods(self) -> dict[str, int]:
        return {f"klfitter_{n}": n for n in self.klfitter_n_jets}

    def methods(self) -> list[str]:
        return [*self.chi2_methods(), *self.klfitter_methods()]


@dataclass(frozen=True)
class ModelSpec:
    """An assignment network of the config: its architecture, inputs and hyperparameters."""

    name: str
    architecture: str
    features: tuple[str, ...]
    hyperparameters: dict = field(default_factory=dict)


@dataclass(frozen=True)
class QGStudy:
    """The quark/gluon tagger study (seed 004): dijet samples, taggers and calibration settings."""

    mc: str
    data: str
    jet_pt_min: float = 150.0
    jet_eta_max: float = 2.1
    balance_max: float = 1.5
    truth_delta_r: float = 0.4
    max_constituents: int = 50
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    flat_bins: tuple[int, int] = (10, 6)
    pt_bins: tuple[float, ...] = (150.0, 250.0, 400.0, 1000.0)
    output_bins: int = 40
    working_points: tuple[float, ...] = (0.5, 0.8)
    quantile_bins: tuple[int, ...] = (10, 6, 15)
    bootstrap: int = 40
    taggers: dict[str, ModelSpec] = field(default_factory=dict)
    training: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    tag: str
    seed: int
    detector: dict
    samples: dict[str, GeneratedSample | FileSample | SpanetSample]
    batch_size: int = 500
    progress: bool = True
    cuts: Cuts = Cuts()
    read_step: int = 20_000
    matching: Matching = Matching()
    datasets: Datasets = Datasets()
    models: dict[str, ModelSpec] = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    baselines: Baselines = Baselines()
    qg: QGStudy | None = None
    qg_samples: dict[str, GeneratedSample | FileSample] = field(default_factory=dict)
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    def event_samples(self) -> dict[str, GeneratedSample | FileSample | SpanetSample]:
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

    def methods(self) -> list[str]:
        """Every method of the config: the networks, then the baselines."""
        return [*self.models, *self.baselines.methods()]

    def generators(self) -> list[str]:
        """The generator study's samples: the nominal (training) sample, then the alternatives."""
        return [self.datasets.training_sample, *self.raw.get("generators", {})]

    def saja_models(self) -> list[str]:
        return [name for name, spec in self.models.items() if spec.architecture == "saja"]

    def chunk_seeds(self, sample: str, chunk: int) -> tuple[int, int]:
        """(Pythia seed, detector-response seed) of one chunk: independent streams derived from
        the master seed, the sample name and the chunk index only."""
        name_key = int.from_bytes(hashlib.sha256(sample.encode()).digest()[:8], "little")
        state = np.random.SeedSequence([self.seed, name_key, chunk]).generate_state(2, dtype=np.uint64)
        return int(state[0] % MAX_PYTHIA_SEED), int(state[1])

    def generator_settings(self, sample: str, chunk: int) -> GeneratorSettings:
        s = self.generated()[sample]
        low, high = s.chunk_bin(chunk)
        return GeneratorSettings(
            process=s.process,
            seed=self.chunk_seeds(sample, chunk)[0],
            shower=s.shower,
            tune=s.tune,
            pthat_min=low,
            pthat_max=high,
            pthat_bias_power=s.pthat_bias_power,
            pthat_bias_reference=s.pthat_bias_reference,
            extra=s.pythia_settings,
        )

    def stage_config(self, stage: str, sample: str | None = None) -> dict:
        """The config subset a stage's artifacts depend on (hashed into provenance): the stage's own
        section plus those of every stage upstream of it, and the topology file's content (its
        resonance masses and widths only where the fits and figures read them)."""
        upstream = {"skim": ("selection",), "match": ("selection", "matching"),
                    "split": ("selection", "matching", "datasets"),
                    "train": ("selection", "matching", "datasets", "models", "training"),
                    "baselines": ("selection", "matching", "datasets", "baselines"),
                    "evaluate": ("selection", "matching", "datasets", "models", "training", "baselines",
                                 "evaluation")}[stage]
        subset = {key: self.raw[key] for key in upstream}
        subset["topology"] = topology.default().provenance(masses=stage in ("baselines", "evaluate"))
        if sample is not None:
            subset["sample"] = self.sample_config(sample)
        else:
            subset["samples"] = {name: self.sample_config(name) for name in self.samples}
        return subset

    def rule_config(self, rule: str, sample: str | None = None, model: str | None = None) -> dict:
        """The config subset a rule's outputs depend on, as the workflow passes it to snakemake
        (a param, so that editing it reruns that rule and what depends on it, and nothing else):
        a sample's own settings for its generation, the stage subsets of `stage_config` further
        down, and for the networks and q/g taggers (`model`) only their own entry."""
        if rule in ("generate", "check_input", "qg_samples"):
            return self.qg_config(sample) if rule == "qg_samples" else self.sample_config(sample)
        if rule in ("skim", "match"):
            return self.stage_config(rule, sample)
        if rule in ("train", "predict", "export_onnx", "attention"):
            return {**self.stage_config("split"), "model": self.raw["models"][model], "training": self.raw["training"]}
        if rule in ("qg_train", "qg_score"):
            study = self.qg_config()
            return {**study, "qg": {**study["qg"], "taggers": {model: self.raw["qg"]["taggers"][model]}}}
        if rule.startswith("qg_"):
            return self.qg_config()
        stage = {"split": "split", "chi2_widths": "baselines", "chi2": "baselines", "transfer_functions": "baselines",
                 "klfitter": "baselines"}.get(rule, "evaluate")
        return self.stage_config(stage)

    def qg_config(self, sample: str | None = None) -> dict:
        """The config subset a q/g artifact depends on: the study's settings and its sample(s)."""
        settings = {k: v for k, v in self.raw["qg"].items() if k != "samples"}
        names = [sample] if sample is not None else list(self.qg_samples)
        return {"qg": settings, "samples": {name: self.sample_config(name) for name in names}}

    def sample_config(self, sample: str) -> dict:
        """The config subset a sample's artifacts depend on (hashed into provenance)."""
        spec = {**self.raw["samples"], **self.raw["generators"], **self.raw.get("qg", {}).get("samples", {})}[sample]
        subset = {"seed": self.seed, "sample": spec}
        if isinstance(self.event_samples()[sample], GeneratedSample):
            subset["detector"] = self.detector
            subset["generation"] = {"batch_size": self.batch_size}
        return subset


def _validator(schema_path: Path) -> jsonschema.Validator:
    schema = yaml.safe_load(schema_path.read_text())
    cls = jsonschema.validators.validator_for(schema)

    def set_defaults(validator, properties, instance, schema):
        for key, sub in properties.items():
            if isinstance(instance, dict) and "default" in sub:
                instance.setdefault(key, sub["default"])
        yield from cls.VALIDATORS["properties"](validator, properties, instance, schema)

    return jsonschema.validators.extend(cls, {"properties": set_defaults})(schema)


def validate(data: dict, schema_path: Path, where: str) -> None:
    """Raise ConfigError naming the key path and what is allowed (defaults are filled in)."""
    errors = sorted(_validator(schema_path).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError("\n".join(_describe(e, where) for e in errors))


def _describe(error, where: str) -> str:
    path = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        return f"{where}: key {path!r}: {error.message}. Allowed keys: {allowed}"
    if error.validator == "enum":
        return f"{where}: key {path!r}: {_short(error.instance)} is not allowed; allowed values: {error.validator_value}"
    if error.validator == "type":
        return f"{where}: key {path!r}: {_short(error.instance)} is not of type {error.validator_value!r}"
    return f"{where}: key {path!r}: {_short(error.message, 300)}"


def _short(value: Any, limit: int = 80) -> str:
    """A value for an error message, cut to `limit` characters (a wrong file may hold anything)."""
    text = value if isinstance(value, str) and limit > 80 else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key written twice in one mapping (plain YAML keeps the
    last one silently, so an edited copy of a key would override the intended value)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice (first on line {seen[key] + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | Path, what: str = "config file") -> Any:
    """A YAML file's content, or a ConfigError in one line naming the file, the line and the
    problem (never the file's whole text: a mistyped path may point at any file)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{what} {path} not found")
    try:
        text = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"{path}: {err.strerror or err}; a {what} is a readable YAML file") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = ": ".join(" ".join(str(part).split()) for part in (getattr(err, "context", None),
                                                                      getattr(err, "problem", None)) if part)
        if mark is None:
            raise ConfigError(f"{path}: not valid YAML for a {what} ({problem or err}). Fix its syntax.") from None
        raise ConfigError(f"{path}: YAML syntax error at line {mark.line + 1}, column {mark.column + 1}: {problem}. "
                          "Fix the syntax there.") from None


def load(path: str | Path) -> Config:
    """Read, validate and type a config file (as `snakemake --configfile` would)."""
    data = read_yaml(path) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config file holds a YAML mapping of keys (tag, seed, samples, ...)")
    return from_dict(data, where=str(path))


def from_dict(data: dict[str, Any], where: str = "config", base: Path = ROOT) -> Config:
    validate(data, SCHEMA, where)
    card_path = Path(data["detector_card"])
    card_path = card_path if card_path.is_absolute() else base / card_path
    if not card_path.exists():
        raise ConfigError(f"{where}: key 'detector_card': file {card_path} not found")
    detector = read_yaml(card_path, "detector card")
    if not isinstance(detector, dict):
        raise ConfigError(f"{where}: key 'detector_card': {card_path} is not a detector card (a YAML mapping of "
                          "jet_radius, tracker, ecal, ...); see config/detector_cms.yaml")
    validate(detector, DETECTOR_SCHEMA, str(card_path))
    clash = sorted(set(data["samples"]) & set(data["generators"]))
    if clash:
        raise ConfigError(f"{where}: key 'generators': {clash} are also under 'samples'; give the alternatives "
                          "their own names")
    samples = {name: _sample(name, spec, where)
               for name, spec in {**data["samples"], **data["generators"]}.items()}
    datasets = data["datasets"]
    if datasets["training_sample"] not in samples:
        raise ConfigError(
            f"{where}: key 'datasets.training_sample': {datasets['training_sample']!r} is not a sample; "
            f"allowed values: {sorted(samples)}"
        )
    fractions = tuple(datasets["fractions"][k] for k in ("train", "val", "test"))
    if abs(sum(fractions) - 1) > 1e-9:
        raise ConfigError(f"{where}: key 'datasets.fractions': train + val + test must be 1, not {sum(fractions)}")
    baselines = _baselines(data["baselines"])
    methods = [*data["models"], *baselines.methods()]
    if data["evaluation"]["reconstruction"]["method"] not in methods:
        raise ConfigError(f"{where}: key 'evaluation.reconstruction.method': "
                          f"{data['evaluation']['reconstruction']['method']!r} is not a method; allowed values: {methods}")
    _check_spanet_samples(data, samples, baselines, where)
    selection = dict(data["selection"])
    qg, qg_samples = _qg(data, samples, where)
    return Config(
        tag=data["tag"],
        seed=data["seed"],
        detector=detector,
        samples=samples,
        batch_size=data["generation"]["batch_size"],
        progress=data["generation"]["progress"],
        read_step=selection.pop("read_step"),
        cuts=Cuts(**selection),
        matching=Matching(dr_max=data["matching"]["dr_max"], dr_scan=tuple(data["matching"]["dr_scan"])),
        datasets=Datasets(datasets["training_sample"], fractions, datasets["max_jets"]),
        models=_model_specs(data["models"]),
        training=dict(data["training"]),
        baselines=baselines,
        qg=qg,
        qg_samples=qg_samples,
        raw=data,
    )


def _baselines(section: dict) -> Baselines:
    chi2, klfitter = section["chi2"], section["klfitter"]
    return Baselines(chi2_n_jets=tuple(chi2["n_jets"]), chi2_btag_aware=chi2["btag_aware"],
                     klfitter_n_jets=tuple(klfitter["n_jets"]), klfitter_btag_aware=klfitter["btag_aware"],
                     transfer_sample=klfitter.get("transfer_sample"))


def _model_specs(section: dict) -> dict[str, ModelSpec]:
    """Networks (models) or q/g taggers by name: architecture, input features (none for the
    taggers, which fix their own), and every other key as a hyperparameter."""
    return {name: ModelSpec(name, spec["architecture"], tuple(spec.get("features", ())),
                            {k: v for k, v in spec.items() if k not in ("architecture", "features")})
            for name, spec in section.items()}


def _qg(data: dict, analysis_samples: dict, where: str) -> tuple[QGStudy | None, dict]:
    """The q/g study and its samples, or (None, {}) when the config has no `qg` section."""
    if "qg" not in data:
        return None, {}
    section = data["qg"]
    clash = sorted(set(section["samples"]) & set(analysis_samples))
    if clash:
        raise ConfigError(f"{where}: key 'qg.samples': {clash} are also under 'samples' or 'generators'; "
                          "give the dijet samples their own names")
    samples = {name: _sample(name, spec, where) for name, spec in section["samples"].items()}
    spanet = sorted(name for name, s in samples.items() if isinstance(s, SpanetSample))
    if spanet:
        raise ConfigError(f"{where}: key 'qg.samples': {spanet} are SPANet-format datasets; the q/g study needs "
                          "Delphes events with jet constituents (source: generate or files)")
    for role in ("mc", "data"):
        if section[role] not in samples:
            raise ConfigError(f"{where}: key 'qg.{role}': {section[role]!r} is not a sample under qg.samples; "
                              f"allowed values: {sorted(samples)}")
    if section["mc"] == section["data"]:
        raise ConfigError(f"{where}: key 'qg.data': the calibrated sample must differ from qg.mc "
                          f"({section['mc']!r}); use a sample with another seed for an MC-as-data closure")
    mc = samples[section["mc"]]
    if isinstance(mc, GeneratedSample) and not mc.constituents:
        raise ConfigError(f"{where}: key 'qg.samples.{section['mc']}.constituents': the tagger needs the jet "
                          "constituents; set constituents: true")
    fractions = tuple(section["fractions"][k] for k in ("train", "val", "test"))
    if abs(sum(fractions) - 1) > 1e-9:
        raise ConfigError(f"{where}: key 'qg.fractions': train + val + test must be 1, not {sum(fractions)}")
    edges = section["pt_bins"]
    if any(b <= a for a, b in zip(edges[:-1], edges[1:], strict=True)):
        raise ConfigError(f"{where}: key 'qg.pt_bins': edges must increase, got {edges}")
    selection = section["selection"]
    study = QGStudy(
        mc=section["mc"], data=section["data"], jet_pt_min=selection["jet_pt_min"],
        jet_eta_max=selection["jet_eta_max"], balance_max=selection["balance_max"],
        truth_delta_r=section["truth_delta_r"], max_constituents=section["max_constituents"],
        fractions=fractions, flat_bins=(section["flat_bins"]["pt"], section["flat_bins"]["eta"]),
        pt_bins=tuple(float(e) for e in edges), output_bins=section["output_bins"],
        working_points=tuple(section["working_points"]), quantile_bins=tuple(section["quantile_bins"]),
        bootstrap=section["bootstrap"],
        taggers=_model_specs(section["taggers"]),
        training=dict(section["training"]),
    )
    return study, samples


def _check_disjoint(bins: list[tuple[float, float | None]], where: str) -> None:
    """pTHat bins must not overlap: each bin keeps its own cross-section, so an overlap counts that
    phase space twice."""
    ordered = sorted(bins)
    for (low, high), (next_low, next_high) in zip(ordered, ordered[1:], strict=False):
        if high is None or high > next_low:
            raise ConfigError(f"{where}: bins [{low}, {high if high is not None else -1}] and "
                              f"[{next_low}, {next_high if next_high is not None else -1}] overlap; the phase space "
                              "they share would be counted twice")


def _sample(name: str, spec: dict, where: str) -> GeneratedSample | FileSample | SpanetSample:
    if spec["source"] == "spanet_h5":
        return _spanet_sample(name, spec, where)
    if spec["source"] == "files":
        sample = FileSample(
            name=name,
            files=tuple(spec["files"]),
            cross_section_pb=spec["cross_section_pb"],
            generated_events=spec.get("generated_events"),
            sum_of_weights=spec.get("sum_of_weights"),
            label=spec.get("label", name),
            btag_bit=spec["btag_bit"],
        )
        if (sample.generated_events is None) == (sample.sum_of_weights is None):
            raise ConfigError(
                f"{where}: key 'samples.{name}': give exactly one of 'generated_events' or 'sum_of_weights' "
                "(the normalisation of a user sample)"
            )
        _require_matches(where, [(f"samples.{name}.files", pattern) for pattern in sample.files])
        return sample
    bins = []
    for low, high in spec.get("pthat_bins", []):
        if high != -1 and high <= low:
            raise ConfigError(f"{where}: key 'samples.{name}.pthat_bins': bin [{low}, {high}] has max <= min")
        bins.append((float(low), None if high == -1 else float(high)))
    if spec["process"] == "ttbar_allhad" and bins:
        raise ConfigError(f"{where}: key 'samples.{name}.pthat_bins': pTHat bins are for process 'qcd' only")
    _check_disjoint(bins, f"{where}: key 'samples.{name}.pthat_bins'")
    if spec["events"] < spec["chunks"]:
        raise ConfigError(f"{where}: key 'samples.{name}.chunks': {spec['chunks']} chunks for {spec['events']} events "
                          f"would leave a chunk without events; use at most {spec['events']} chunks")
    rejected = rejected_settings(spec["pythia_settings"])
    if rejected:
        raise ConfigError(f"{where}: key 'samples.{name}.pythia_settings': Pythia rejects {rejected} (unknown name or "
                          "a value of the wrong kind); see Pythia's online manual for the setting's spelling")
    return GeneratedSample(
        name=name,
        process=spec["process"],
        events=spec["events"],
        chunks=spec["chunks"],
        shower=spec["shower"],
        tune=spec["tune"],
        pthat_bins=tuple(bins),
        pthat_bias_power=spec["pthat_bias_power"],
        pthat_bias_reference=spec["pthat_bias_reference"],
        constituents=spec["constituents"],
        pythia_settings=tuple(spec["pythia_settings"]),
        label=spec.get("label", name),
    )


def _spanet_sample(name: str, spec: dict, where: str) -> SpanetSample:
    """A `source: spanet_h5` sample: exactly one of `files` or `roles`, every glob matching, no
    file in two roles."""
    key = f"samples.{name}"
    if ("files" in spec) == ("roles" in spec):
        raise ConfigError(f"{where}: key {key!r}: give exactly one of 'files' (globs; the training sample is split "
                          "by the event hash) or 'roles' ({train, val, test} globs assigning whole files)")
    sample = SpanetSample(name=name, files=tuple(spec.get("files", ())),
                          roles={role: tuple(globs) for role, globs in spec.get("roles", {}).items()},
                          cross_section_pb=spec.get("cross_section_pb"), label=spec.get("label", name))
    where_globs = [(f"{key}.files", p) for p in sample.files]
    where_globs += [(f"{key}.roles.{role}", p) for role, globs in sample.roles.items() for p in globs]
    _require_matches(where, where_globs)
    seen: dict[Path, str] = {}
    for role, paths in sample.role_paths().items():
        for path in paths:
            if path in seen:
                raise ConfigError(f"{where}: key '{key}.roles': {path} is in both {seen[path]!r} and {role!r}; "
                                  "a file belongs to one set")
            seen[path] = role
    return sample


def _check_spanet_samples(data: dict, samples: dict, baselines: Baselines, where: str) -> None:
    """What SPANet-format datasets cannot do: roles outside the training sample, jet-shape
    inputs, and the transfer functions (no parton energies): those need a Delphes sample."""
    spanet = {name: s for name, s in samples.items() if isinstance(s, SpanetSample)}
    training = data["datasets"]["training_sample"]
    for name, sample in spanet.items():
        if sample.roles and name != training:
            raise ConfigError(f"{where}: key 'samples.{name}.roles': roles are for the training sample "
                              f"(datasets.training_sample = {training!r}); every other sample goes whole into the "
                              "test set: list its files under 'files'")
    if spanet:
        for model, spec in data["models"].items():
            missing = [f for f in spec["features"] if f not in SPANET_H5_FEATURES]
            if missing:
                raise ConfigError(f"{where}: key 'models.{model}.features': {missing} are not in SPANet-format "
                                  f"datasets ({sorted(spanet)}); allowed values: {list(SPANET_H5_FEATURES)}")
    source = baselines.transfer_sample
    if source is not None and source not in samples:
        raise ConfigError(f"{where}: key 'baselines.klfitter.transfer_sample': {source!r} is not a sample; allowed "
                          f"values: {sorted(n for n in samples if n not in spanet)}")
    if source in spanet:
        raise ConfigError(f"{where}: key 'baselines.klfitter.transfer_sample': {source!r} is a SPANet-format "
                          "dataset without parton energies; name a ttbar sample with Delphes events "
                          f"(source: generate or files): {sorted(n for n in samples if n not in spanet)}")
    if source is None and training in spanet and baselines.klfitter_n_jets:
        raise ConfigError(f"{where}: key 'baselines.klfitter.transfer_sample': the training sample {training!r} is "
                          "a SPANet-format dataset without parton energies, so the KLFitter-style transfer "
                          "functions need another sample: set it to a ttbar sample with Delphes events "
                          "(source: generate or files; under 'generators' it stays out of the headline metrics), "
                          "or set baselines.klfitter.n_jets: [] to run without the KLFitter-style baseline")
