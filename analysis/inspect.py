"""`check-input`: vet Delphes files before a long run and say what the workflow can do with them.

Branches being present is not enough to promise a stage: a W+jets file has every Particle field
the matching reads and still no t tbar decay in it. So the matching is promised only when the
parton finder, run on the first events of the file, finds the topology's hadronic decay chains
(t tbar, or t tbar H for `config/topology/tth_allhad.yaml`); and the q/g
line asks for exactly the candidate fields analysis.qg.samples reads.

Headers are not enough either: a truncated copy or a damaged basket shows every branch and the
right number of events. So every entry of every branch a stage reads is read here, a step at a
time, and the jets are checked for NaN and infinities as the skim checks them.
"""
from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import awkward as ak
import numpy as np

from analysis.core.jagged import Columns
from analysis.events.delphes import (
    JET_KINEMATICS,
    TREE,
    DelphesInputError,
    available_fields,
    open_tree,
    read_steps,
    read_tree,
)
from analysis.events.jets import SHAPE_BRANCHES
from analysis.events.weights import WeightSummary
from analysis.partons import PARTON_FIELDS, find_partons
from analysis.qg.samples import CANDIDATE_FIELDS, read_spec
from analysis.selection import JET_BRANCHES, Layout, non_finite_jets
from analysis.topology import TOPOLOGY, Topology

MATCHING = "jet-parton matching"
WEIGHTS = "event numbers and generator weights"
QG_CONSTITUENTS = "jet constituents for the q/g tagger"
CAPABILITIES = {
    # what the workflow can do -> (collection, fields it needs, required for the file to be usable)
    "trigger selection and jet inputs": ("Jet", JET_KINEMATICS, True),
    MATCHING: ("Particle", PARTON_FIELDS, False),
    "SAJA jet-shape inputs": ("Jet", SHAPE_BRANCHES, False),
    WEIGHTS: ("Event", ("Number", "Weight"), True),
    QG_CONSTITUENTS: ("ParticleFlowCandidate", CANDIDATE_FIELDS, False),
}
PARTON_CENSUS_EVENTS = 2000
"""Events at the start of a file in which the parton finder looks for t tbar chains."""
PARTON_CENSUS_STEP = 500
"""Events read at once: a full shower record with pile-up has thousands of particles per event."""
SCAN_STEP = 20_000
"""Events of the Event and Jet collections read at once in the full scan (the skim's read_step)."""
RECORD_SCAN_STEP = 2_000
"""Events of a particle or constituent collection read at once in the full scan: thousands of
entries per event in a real shower record, so a smaller step keeps the memory near the jets'."""


@dataclass(frozen=True)
class PartonCensus:
    """How many of the events read have every hadronic decay chain of the topology (t tbar: both
    tops'; t tbar H: also the Higgs's)."""

    events_read: int
    with_chain: int

    def as_dict(self) -> dict[str, int]:
        return {"events_read": self.events_read, "with_chain": self.with_chain}


@dataclass
class FileReport:
    path: Path
    events: int = 0
    collections: dict[str, set[str]] = field(default_factory=dict)
    can: dict[str, str] = field(default_factory=dict)  # what -> detail ("" when none)
    cannot: dict[str, str] = field(default_factory=dict)  # what -> reason
    topology: Topology = TOPOLOGY  # whose decay chains the parton census looks for
    partons: PartonCensus | None = None  # None when the Particle fields are missing
    weights: WeightSummary | None = None
    duplicates: dict[str, int] = field(default_factory=dict)  # branch name -> branches carrying it
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def usable(self) -> bool:
        return self.error is None

    def text(self) -> str:
        if self.error:
            return f"UNUSABLE {self.error}"
        lines = [f"OK {self.path}: {self.events} events"]
        for name in sorted(self.collections):
            lines.append(f"  {name}: {', '.join(sorted(self.collections[name]))}")
        lines += [f"  can: {what}" + (f" ({detail})" if detail else "") for what, detail in self.can.items()]
        lines += [f"  cannot: {what} ({reason})" for what, reason in self.cannot.items()]
        lines += [f"  warning: {message}" for message in self.warnings]
        return "\n".join(lines)

    def as_dict(self) -> dict:
        """The file's entry in check_input.json."""
        return {"events": self.events, "can": self.can, "cannot": self.cannot,
                "hadronic_chains": self.partons.as_dict() if self.partons else None,
                "weights": self.weights.as_dict() if self.weights else None,
                "duplicate_branches": self.duplicates, "warnings": self.warnings}


def check_file(path: str | Path, topology: Topology = TOPOLOGY) -> FileReport:
    """What the workflow can do with one file, whose signal events should hold `topology`'s decay
    chains; `error` set when it cannot use the file at all."""
    report = FileReport(Path(path), topology=topology)
    try:
        tree = open_tree(path)
        report.events = tree.num_entries
        report.collections = available_fields(tree)
        report.duplicates = duplicate_branches(tree)
        if report.duplicates:
            report.warnings.append(duplicate_warning(report.duplicates))
        if report.events == 0:
            raise DelphesInputError(f"{path}: the '{TREE}' tree has no events. Check that Delphes finished.")
        for what, (_, _, required) in CAPABILITIES.items():
            if required and (missing := _missing(report, what)):
                raise DelphesInputError(
                    f"{path}: missing branch(es) {', '.join(missing)} needed for {what}. "
                    "Add them to the Delphes card's TreeWriter and rerun Delphes."
                )
        report.weights = scan(tree, report.path, scan_spec(report))
        for what in CAPABILITIES:
            _assess(report, what)
    except DelphesInputError as err:
        report.error = str(err)
    return report


def _missing(report: FileReport, what: str) -> list[str]:
    """The branches `what` needs that the file lacks, as `Collection.Field`."""
    collection, fields, _ = CAPABILITIES[what]
    return [f"{collection}.{f}" for f in fields if f not in report.collections.get(collection, set())]


def _assess(report: FileReport, what: str) -> None:
    """File `what` under can or cannot: its branches first, then what they hold."""
    if missing := _missing(report, what):
        report.cannot[what] = f"missing {', '.join(missing)}"
        return
    ok, detail = CONTENT_CHECKS[what](report) if what in CONTENT_CHECKS else (True, "")
    if ok:
        report.can[what] = detail
    else:
        report.cannot[what] = detail


def _matching(report: FileReport) -> tuple[bool, str]:
    """The matching needs the topology's decay chains, not just Particle branches: run the
    parton finder on the first events."""
    process = report.topology.process_text
    try:
        report.partons = census = parton_census(report.path, min(report.events, PARTON_CENSUS_EVENTS), report.topology)
    except ValueError as err:  # the finder's malformed D1/D2 links
        return False, f"the Particle record cannot be followed: {err}"
    if census.with_chain:
        return True, f"{census.with_chain} of {census.events_read} events read have a hadronic {process} chain"
    return False, f"no hadronic {process} chain in the first {census.events_read} events"


def _qg_constituents(report: FileReport) -> tuple[bool, str]:
    """Real Delphes files have no JetIndex: analysis.qg.samples then associates by Delta R."""
    if "JetIndex" in report.collections["ParticleFlowCandidate"]:
        return True, ""
    return True, "constituents associated to jets by Delta R: no JetIndex"


def _weights(report: FileReport) -> tuple[bool, str]:
    """What the normalisation will see (analysis.normalisation): unit, constant or varying
    weights, and how many are negative (summed by `scan`)."""
    return True, f"weights {report.weights.text()}"


CONTENT_CHECKS = {MATCHING: _matching, QG_CONSTITUENTS: _qg_constituents, WEIGHTS: _weights}
"""Capabilities whose branches are not enough: what -> (can, detail or reason)."""


def scan_spec(report: FileReport) -> dict[str, tuple[str, ...]]:
    """Every branch a stage reads from the file: the skim's (which Jet extras and whether the
    Particle record, as analysis.selection decides) and, when the file has the jet constituents,
    the q/g samples' (analysis.qg.samples)."""
    spec = Layout.of(report.collections).spec()
    if not _missing(report, QG_CONSTITUENTS):
        for collection, fields in read_spec(report.path)[0].items():
            spec[collection] = tuple(dict.fromkeys(spec.get(collection, ()) + fields))
    return spec


def scan(tree, path: Path, spec: dict[str, tuple[str, ...]]) -> WeightSummary:
    """Read every entry of `spec` from `tree` (opened from `path`), a step at a time, the way
    the stages will read it: a corrupt basket or a truncated file is a DelphesInputError naming
    the branch and the entries (from analysis.events.delphes.read_tree), NaN or infinite jet
    kinematics one naming the first event, in the skim's words. Event and Jet are read together
    (the event numbers name the bad jet); each larger record on its own, in smaller steps, so
    memory stays bounded. Returns the summary of the generator weights read on the way."""
    records = {collection: fields for collection, fields in spec.items() if collection not in ("Event", "Jet")}
    weights = WeightSummary()
    for arrays in read_steps(tree, path, {"Event": spec["Event"], "Jet": spec["Jet"]}, SCAN_STEP):
        event = arrays["Event"][:, 0]
        if message := non_finite_jets(Columns.of(arrays["Jet"], JET_BRANCHES), path, ak.to_numpy(event.Number)):
            raise DelphesInputError(message)
        weights = weights + WeightSummary.of(ak.to_numpy(event.Weight).astype(np.float64))
    for collection, fields in records.items():
        for _ in read_steps(tree, path, {collection: fields}, RECORD_SCAN_STEP):
            pass
    return weights


def parton_census(path: Path, events: int, topology: Topology = TOPOLOGY) -> PartonCensus:
    """Run `topology`'s parton finder on the first `events` events, a step at a time (memory
    stays flat whatever the size of the particle record)."""
    with_chain, tree = 0, open_tree(path)
    for start in range(0, events, PARTON_CENSUS_STEP):
        particles = read_tree(tree, path, {"Particle": PARTON_FIELDS}, start, min(start + PARTON_CENSUS_STEP, events))
        partons = find_partons(Columns.of(particles["Particle"], PARTON_FIELDS), topology)
        with_chain += int(np.count_nonzero(partons.counts))
    return PartonCensus(events, with_chain)


def duplicate_branches(tree) -> dict[str, int]:
    """Branch names carried by more than one branch -> how many, top-level names and the leaf
    names under them alike (two `Particle` branches also repeat `Particle.PT`, ...). uproot
    reads the first branch of a name, and `available_fields` merges the fields of all, so the
    listing would show one collection made of two."""
    names = Counter(key.rsplit("/", 1)[-1] for key in tree.keys(full_paths=True))
    return {name: n for name, n in sorted(names.items()) if n > 1}


def duplicate_warning(duplicates: dict[str, int]) -> str:
    """One line per file: the repeated collections, how often, and the fix."""
    per_collection: dict[str, list[str]] = {}
    for name in duplicates:
        per_collection.setdefault(name.split(".", 1)[0].removesuffix("_size"), []).append(name)
    parts = [f"{collection} ({max(duplicates[n] for n in names)} branches; {len(names)} repeated "
             f"names such as {names[0]})" for collection, names in per_collection.items()]
    return (f"repeated branch names: {', '.join(parts)}. uproot reads only the first branch of a name, and "
            "the collection's field list merges them all. Give each branch its own name in the Delphes "
            "card's TreeWriter and rerun Delphes.")


def write_report(files: Iterable[str | Path], output: str | Path, sample: str, topology: Topology = TOPOLOGY) -> None:
    """Vet a user sample's files (the `check_input` rule); fail naming every unusable one."""
    from analysis.core.provenance import write_json

    reports = [check_file(f, topology) for f in files]
    bad = [r.error for r in reports if not r.usable]
    if bad:
        raise DelphesInputError(f"sample {sample!r} has unusable input files:\n" + "\n".join(bad))
    for report in reports:
        for message in report.warnings:
            warnings.warn(f"{report.path}: {message}", stacklevel=2)
    censuses = [r.partons for r in reports if r.partons]
    write_json(output, {
        "sample": sample,
        "files": {str(r.path): r.as_dict() for r in reports},
        "events": sum(r.events for r in reports),
        "hadronic_chains": {"events_read": sum(c.events_read for c in censuses),
                           "with_chain": sum(c.with_chain for c in censuses)} if censuses else None,
    })
