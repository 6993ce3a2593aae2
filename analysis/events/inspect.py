"""`check-input`: vet Delphes files before a long run and say what the workflow can do with them."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from analysis.events.delphes import JET_KINEMATICS, PARTICLE_FIELDS, DelphesInputError, available_fields, open_tree
from analysis.events.jets import SHAPE_BRANCHES

CAPABILITIES = {
    # what the workflow can do -> (collection, fields it needs, required for the file to be usable)
    "trigger selection and jet inputs": ("Jet", JET_KINEMATICS, True),
    "jet-parton matching (hard-process partons)": ("Particle", PARTICLE_FIELDS, False),
    "SAJA jet-shape inputs": ("Jet", SHAPE_BRANCHES, False),
    "generator event weights": ("Event", ("Weight",), False),
    "jet constituents for the q/g tagger": ("ParticleFlowCandidate", ("PT", "Eta", "Phi", "PID", "JetIndex"), False),
}


@dataclass
class FileReport:
    path: Path
    events: int = 0
    collections: dict[str, set[str]] = field(default_factory=dict)
    can: list[str] = field(default_factory=list)
    cannot: dict[str, list[str]] = field(default_factory=dict)
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
        lines += [f"  can: {what}" for what in self.can]
        lines += [f"  cannot: {what} (missing {', '.join(miss)})" for what, miss in self.cannot.items()]
        return "\n".join(lines)


def check_file(path: str | Path) -> FileReport:
    report = FileReport(Path(path))
    try:
        tree = open_tree(path)
    except DelphesInputError as err:
        report.error = str(err)
        return report
    report.events = tree.num_entries
    report.collections = available_fields(tree)
    for what, (collection, fields, required) in CAPABILITIES.items():
        missing = [f"{collection}.{f}" for f in fields if f not in report.collections.get(collection, set())]
        if not missing:
            report.can.append(what)
        elif required:
            report.error = (
                f"{path}: missing branch(es) {', '.join(missing)} needed for {what}. "
                "Add them to the Delphes card's TreeWriter and rerun Delphes."
            )
        else:
            report.cannot[what] = missing
    if report.usable and report.events == 0:
        report.error = f"{path}: the 'Delphes' tree has no events. Check that Delphes finished."
    return report


def write_report(files, output, sample: str) -> None:
    """The `check_input` rule: vet a user sample's files; fail naming every unusable one."""
    from analysis.provenance import write_json

    reports = [check_file(f) for f in files]
    bad = [r.error for r in reports if not r.usable]
    if bad:
        raise DelphesInputError(f"sample {sample!r} has unusable input files:\n" + "\n".join(bad))
    write_json(output, {
        "sample": sample,
        "files": {str(r.path): {"events": r.events, "can": r.can, "cannot": r.cannot} for r in reports},
        "events": sum(r.events for r in reports),
    })
