"""The typed sections of a config, each built from its validated section (schema defaults filled
in: the schema is the only place a default is written, so no field here has one), with the
checks a schema cannot make within a section. Values pass through unconverted where they reach
artifacts, so a typed section and the validated document agree number for number."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from analysis import methods
from analysis.config.samples import GeneratedSample, Sample
from analysis.config.schema import ConfigError

SPLITS = ("train", "val", "test")


def _fractions(section: dict, key: str, where: str) -> tuple[float, float, float]:
    """A {train, val, test} split as a tuple, refused unless it sums to 1."""
    fractions = tuple(section[k] for k in SPLITS)
    if abs(sum(fractions) - 1) > 1e-9:
        raise ConfigError(f"{where}: key {key!r}: train + val + test must be 1, not {sum(fractions)}")
    return fractions


@dataclass(frozen=True)
class Cuts:
    """The CMS all-hadronic trigger selection (SAJA paper sec. 3); GeV."""

    jet_pt_min: float
    jet_eta_max: float
    n_jets_min: int
    n_jets_pt_min: float
    n_btag_min: int
    ht_min: float

    @classmethod
    def from_section(cls, section: dict) -> Cuts:
        """The cuts of the `selection` section (its `read_step` is how, not what, to select)."""
        return cls(**{k: v for k, v in section.items() if k != "read_step"})


@dataclass(frozen=True)
class Matching:
    """Exclusive Delta R jet-parton matching: the cone, and the cones of the Fig. 2 scan."""

    dr_max: float
    dr_scan: tuple[float, ...]

    @classmethod
    def from_section(cls, section: dict) -> Matching:
        return cls(dr_max=section["dr_max"], dr_scan=tuple(section["dr_scan"]))


@dataclass(frozen=True)
class Datasets:
    """The split: the sample the networks learn from, its train / val / test fractions, and the
    jets kept per event."""

    training_sample: str
    fractions: tuple[float, float, float]  # train, val, test
    max_jets: int

    @classmethod
    def from_section(cls, section: dict, samples: Mapping[str, Sample], where: str) -> Datasets:
        if section["training_sample"] not in samples:
            raise ConfigError(f"{where}: key 'datasets.training_sample': {section['training_sample']!r} is not a "
                              f"sample; allowed values: {sorted(samples)}")
        return cls(section["training_sample"], _fractions(section["fractions"], "datasets.fractions", where),
                   section["max_jets"])


@dataclass(frozen=True)
class Training:
    """A training loop's settings (`training`, and `qg.training` for the q/g taggers): the keys
    of analysis.core.training.TrainingSettings that the config sets."""

    batch_size: int
    learning_rate: float
    max_epochs: int
    lr_patience: int
    lr_factor: float
    early_stopping: int
    optimizer: str
    weight_decay: float
    schedule: str
    warmup_epochs: int
    select_by: str
    candidates: int
    screen_epochs: int
    mixed_precision: bool
    device: str

    @classmethod
    def from_section(cls, section: dict) -> Training:
        return cls(**section)


@dataclass(frozen=True)
class ModelSpec:
    """An assignment network (or a q/g tagger) of the config: its architecture, inputs and
    hyperparameters (every other key of its entry, schema defaults filled in)."""

    name: str
    architecture: str
    features: tuple[str, ...]
    hyperparameters: dict[str, Any]
    label: str
    """Its name in legends and tables (`label:`, else its key)."""


DISPLAY_KEYS = ("label",)
"""Keys of a model entry that only name it in figures: neither hyperparameters nor provenance."""


def model_specs(section: dict) -> dict[str, ModelSpec]:
    """Networks (models) or q/g taggers by name: architecture, input features (none for the
    taggers, which fix their own), its label, and every other key as a hyperparameter."""
    return {name: ModelSpec(name, spec["architecture"], tuple(spec.get("features", ())),
                            {k: v for k, v in spec.items() if k not in ("architecture", "features", *DISPLAY_KEYS)},
                            spec.get("label", name))
            for name, spec in section.items()}


@dataclass(frozen=True)
class ImportedSpec:
    """An assignment method run outside the workflow (`imported`): the registry format of its
    prediction file (analysis.methods.REGISTRY), the file, and its name in legends and tables."""

    name: str
    format: str
    predictions: str
    label: str


def imported_specs(section: dict) -> dict[str, ImportedSpec]:
    return {name: ImportedSpec(name, spec["format"], spec["predictions"], spec.get("label", name))
            for name, spec in section.items()}


BASELINE_KINDS = tuple(methods.baseline_names())
"""The baseline kinds, in the methods registry's order, which holds what each kind does; each is
a section of the schema's `baselines` (a test keeps the two lists equal)."""


@dataclass(frozen=True)
class BaselineMethod:
    """One baseline method of a config: its kind (analysis.methods.REGISTRY), the leading N jets
    it assigns, and whether tagged jets fill the b slots first."""

    kind: str
    n_jets: int
    btag_aware: bool

    @property
    def name(self) -> str:
        """`<kind>_<N>`, with `_nobtag` when b-tags are ignored: the two variants of one kind and N
        can run side by side (`btag_aware: both`)."""
        return f"{self.kind}_{self.n_jets}" + ("" if self.btag_aware else "_nobtag")


@dataclass(frozen=True)
class BaselineSpec:
    """One baseline kind's settings: a method per N in `n_jets` (the leading N jets) and per
    b-tag variant (`btag_aware`: true, false, or "both": tagged jets fill the b slots first, or
    not), and the kind's own `options` (its other keys)."""

    kind: str
    n_jets: tuple[int, ...]
    btag_aware: bool | str
    options: Mapping[str, Any]

    def methods(self) -> dict[str, BaselineMethod]:
        """Method name -> method: the b-tag-aware variant's N in order, then the other's."""
        variants = (True, False) if self.btag_aware == "both" else (self.btag_aware,)
        found = (BaselineMethod(self.kind, n, aware) for aware in variants for n in self.n_jets)
        return {method.name: method for method in found}


@dataclass(frozen=True)
class Baselines:
    """The permutation baselines: each kind's settings (the masses and widths of the fits are the
    topology's, analysis.topology)."""

    kinds: dict[str, BaselineSpec]
    not_run: dict[str, str]
    """Baseline kinds configured but not run on this topology (two-body decays) -> why."""

    @classmethod
    def from_section(cls, section: dict, two_body_decays: bool) -> Baselines:
        """The section's baselines; with `two_body_decays` (the topology has some) the kinds the
        methods registry marks as cascades-only run no method."""
        skipped = {kind for kind in BASELINE_KINDS
                   if two_body_decays and not methods.get(kind).two_body_decays and section[kind]["n_jets"]}
        kinds = {kind: BaselineSpec(kind, () if kind in skipped else tuple(section[kind]["n_jets"]),
                                    section[kind]["btag_aware"],
                                    {k: v for k, v in section[kind].items() if k not in ("n_jets", "btag_aware")})
                 for kind in BASELINE_KINDS}
        return cls(kinds=kinds, not_run={kind: methods.get(kind).not_run_reason for kind in sorted(skipped)})

    def methods(self) -> dict[str, BaselineMethod]:
        """Every baseline method, kind by kind: name -> method."""
        return {name: method for spec in self.kinds.values() for name, method in spec.methods().items()}

    @property
    def transfer_sample(self) -> str | None:
        """The sample whose matched jets give the transfer functions (None: the training sample)."""
        return self.kinds["klfitter"].options.get("transfer_sample")


@dataclass(frozen=True)
class MassReconstruction:
    """Fig. 8: the method whose assignments give the W and top masses, and its score cut (or the
    efficiency on matched ttbar that sets the cut instead; None when the cut is given)."""

    method: str
    score_cut: float | None
    efficiency: float | None


@dataclass(frozen=True)
class Evaluation:
    """The metrics and Fig. 8: its luminosity (fb^-1) and mass reconstruction."""

    luminosity_fb: float
    reconstruction: MassReconstruction
    learning_curve_models: tuple[str, ...]
    """Networks trained again on `learning_curve_fractions` of their training events."""
    learning_curve_fractions: tuple[float, ...]

    @classmethod
    def from_section(cls, section: dict, methods: list[str], where: str, networks: list[str] = ()) -> Evaluation:
        reconstruction = MassReconstruction(**section["reconstruction"])
        if reconstruction.method not in methods:
            raise ConfigError(f"{where}: key 'evaluation.reconstruction.method': {reconstruction.method!r} is not a "
                              f"method; allowed values: {methods}")
        curve = section["learning_curve"]
        unknown = [m for m in curve["models"] if m not in networks]
        if unknown:
            raise ConfigError(f"{where}: key 'evaluation.learning_curve.models': {unknown} are not networks of "
                              f"'models'; allowed values: {list(networks)}")
        return cls(luminosity_fb=section["luminosity_fb"], reconstruction=reconstruction,
                   learning_curve_models=tuple(curve["models"]),
                   learning_curve_fractions=tuple(sorted(curve["fractions"])))


@dataclass(frozen=True)
class QGStudy:
    """The quark/gluon tagger study (seed 004): dijet samples, taggers and calibration settings."""

    mc: str
    data: str
    jet_pt_min: float
    jet_eta_max: float
    balance_max: float
    truth_delta_r: float
    max_constituents: int
    fractions: tuple[float, float, float]
    flat_bins: tuple[int, int]
    pt_bins: tuple[float, ...]
    output_bins: int
    working_points: tuple[float, ...]
    quantile_bins: tuple[int, ...]
    bootstrap: int
    taggers: dict[str, ModelSpec]
    training: Training

    @classmethod
    def from_section(cls, section: dict, samples: Mapping[str, Sample], where: str) -> QGStudy:
        """The study of a validated `qg` section whose typed samples are `samples`."""
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
        fractions = _fractions(section["fractions"], "qg.fractions", where)
        edges = section["pt_bins"]
        if any(b <= a for a, b in zip(edges[:-1], edges[1:], strict=True)):
            raise ConfigError(f"{where}: key 'qg.pt_bins': edges must increase, got {edges}")
        selection = section["selection"]
        return cls(
            mc=section["mc"], data=section["data"], jet_pt_min=selection["jet_pt_min"],
            jet_eta_max=selection["jet_eta_max"], balance_max=selection["balance_max"],
            truth_delta_r=section["truth_delta_r"], max_constituents=section["max_constituents"],
            fractions=fractions, flat_bins=(section["flat_bins"]["pt"], section["flat_bins"]["eta"]),
            pt_bins=tuple(float(e) for e in edges), output_bins=section["output_bins"],
            working_points=tuple(section["working_points"]), quantile_bins=tuple(section["quantile_bins"]),
            bootstrap=section["bootstrap"], taggers=model_specs(section["taggers"]),
            training=Training.from_section(section["training"]),
        )
