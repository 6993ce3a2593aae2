"""The event topology, declared once in `config/topology/<name>.yaml` and read here into typed,
frozen objects: the parton slots and their canonical order, the jet classes, the resonances
with their masses and widths, the symmetries, and SPANet's event file.

The file is SPANet's event file (INPUTS, EVENT, PERMUTATIONS) plus what SPANet's file leaves to
code: which resonance each particle is, the PDG ids and masses, the slot names and the jet
classes of the networks (format: workflow/schemas/topology.schema.yaml). Every module takes the
t tbar structure from `TOPOLOGY` instead of writing out two tops of a b and two quarks.

A particle decays in one of two shapes, and `load` refuses any other: a cascade X -> a Y,
Y -> b c (t -> b W, W -> q q') or a two-body decay X -> a b into interchangeable partons
(H -> b bbar). Modules that handle only cascades (the kinematic likelihood) say so through
`Topology.pairs` being empty.

Also here, because they say how an event relates to the topology: the event categories, whose
order is their integer coding in every artifact.
"""
from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATH = ROOT / "config" / "topology" / "ttbar_allhad.yaml"
SCHEMA = ROOT / "workflow" / "schemas" / "topology.schema.yaml"
BOTTOM = 5
SYMBOLS = {6: "t", 23: "Z", 24: "W", 25: "H"}
"""The figures' symbol of a resonance particle, by PDG id (`Topology.process_latex`)."""
"""The b quark's PDG id: slots of b quarks take b-jet transfer functions and b-tagged jets."""

CATEGORIES = ("matched", "unmatched", "background")
"""Event categories: every slot matched to a jet; the topology's decay chain present but not all
matched; no such decay chain (QCD, leptonic W decays)."""
MATCHED, UNMATCHED, BACKGROUND = range(len(CATEGORIES))


class TopologyError(ValueError):
    """A topology file that cannot be used; the message names the file, the key and the fix."""


@dataclass(frozen=True)
class Resonance:
    """A decaying particle: PDG id, the fits' mass and Breit-Wigner width (GeV), and its decay
    into daughters (partons) or other resonances."""

    name: str
    pdg_id: int
    mass: float
    width: float
    decay: tuple[str, ...]


@dataclass(frozen=True)
class Daughter:
    """A parton of the decay: its |PDG id|s and its mass in the fits (GeV)."""

    name: str
    pdg_ids: tuple[int, ...]
    mass: float


@dataclass(frozen=True)
class Particle:
    """A particle of SPANet's EVENT (one per SPA-NET head): the resonance it is, its charge,
    its daughters in the file's order and its groups of interchangeable daughters."""

    name: str
    resonance: str
    charge: int
    daughters: tuple[str, ...]
    symmetric: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Slot:
    """A parton slot: which daughter of which particle; its names in artifacts and in figures."""

    name: str
    particle: str
    daughter: str
    label: str
    latex: str


@dataclass(frozen=True)
class JetClass:
    """A jet class of the networks: the slots a jet of this class fills (none for the last,
    the jets no slot holds)."""

    name: str
    slots: tuple[str, ...]
    latex: str


@dataclass(frozen=True)
class Cascade:
    """One particle's decay X -> a Y, Y -> b c as slot indices: `outer` (X, e.g. the top) and
    `inner` (Y, the W), `spectator` (a, the b) and `pair` (b c, the W's quarks; the first is the
    harder one)."""

    particle: str
    charge: int
    outer: Resonance
    inner: Resonance
    spectator: int
    pair: tuple[int, int]

    @property
    def slots(self) -> tuple[int, int, int]:
        """(spectator, *pair): the order of a SPA-NET triplet head's axes."""
        return (self.spectator, *self.pair)


@dataclass(frozen=True)
class PairDecay:
    """One particle's two-body decay X -> a b into interchangeable partons (H -> b bbar) as slot
    indices, the harder parton first. A neutral particle (charge 0) is its own antiparticle, so
    its partons are a quark and its antiquark."""

    particle: str
    charge: int
    resonance: Resonance
    pair: tuple[int, int]


@dataclass(frozen=True, eq=False)
class Topology:
    """One topology file, checked. Tuples keep the file's order; the derived views below are
    what the stages use. Compared and hashed by identity (`load` reads each file once), so that
    tables derived from a topology can be cached per topology."""

    name: str
    path: Path
    normalisation: dict[str, str]
    particles: tuple[Particle, ...]
    event_groups: tuple[tuple[str, ...], ...]
    resonances: dict[str, Resonance]
    daughters: dict[str, Daughter]
    slots: tuple[Slot, ...]
    classes: tuple[JetClass, ...]
    content: dict[str, Any] = field(repr=False, compare=False)

    def __reduce__(self):
        """Pickled as its file, read again through `load`: within one process the same object."""
        return load, (self.path,)

    def __deepcopy__(self, memo: dict) -> Topology:
        return self  # immutable

    @property
    def file(self) -> str:
        """Its file as artifacts record it: relative to the repository when inside it."""
        return self.path.relative_to(ROOT).as_posix() if self.path.is_relative_to(ROOT) else str(self.path)

    @cached_property
    def slot_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.slots)

    @cached_property
    def class_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes)

    @property
    def other_class(self) -> int:
        """The class of the jets that fill no slot (the last)."""
        return len(self.classes) - 1

    def particle_index(self, name: str) -> int:
        return next(i for i, p in enumerate(self.particles) if p.name == name)

    def slot_index(self, particle: str, daughter: str) -> int:
        return next(i for i, s in enumerate(self.slots) if (s.particle, s.daughter) == (particle, daughter))

    @cached_property
    def slot_classes(self) -> tuple[int, ...]:
        """The class a jet gets when it holds each slot."""
        return tuple(next(k for k, c in enumerate(self.classes) if s.name in c.slots) for s in self.slots)

    @cached_property
    def class_slots(self) -> tuple[tuple[int, tuple[int, ...]], ...]:
        """(class, the slots it fills in order) of every class that fills slots."""
        return tuple((k, tuple(self.slot_names.index(s) for s in c.slots))
                     for k, c in enumerate(self.classes) if c.slots)

    @cached_property
    def particle_slots(self) -> tuple[tuple[int, ...], ...]:
        """Each particle's slots, in the order of its daughters."""
        return tuple(tuple(self.slot_index(p.name, d) for d in p.daughters) for p in self.particles)

    @cached_property
    def symmetric_slots(self) -> tuple[tuple[int, ...], ...]:
        """Every group of interchangeable slots (within one particle), e.g. the quarks of each W."""
        return tuple(tuple(self.slot_index(p.name, d) for d in group) for p in self.particles for group in p.symmetric)

    @cached_property
    def particle_permutations(self) -> tuple[tuple[int, ...], ...]:
        """Every relabelling of the particles that the EVENT permutations allow, identity first:
        entry i of one is the particle that particle i becomes."""
        index = {p.name: i for i, p in enumerate(self.particles)}
        out = []
        for choice in itertools.product(*(itertools.permutations(g) for g in self.event_groups)):
            perm = list(range(len(self.particles)))
            for group, image in zip(self.event_groups, choice, strict=True):
                for a, b in zip(group, image, strict=True):
                    perm[index[a]] = index[b]
            out.append(tuple(perm))
        return tuple(out)

    @cached_property
    def class_permutations(self) -> tuple[tuple[int, ...], ...]:
        """The jet classes after each particle relabelling (identity first): entry k of one is the
        class that class k becomes."""
        out = []
        for perm in self.particle_permutations:
            image = {}
            for s in self.slots:
                moved = self.particles[perm[self.particle_index(s.particle)]].name
                image[s.name] = self.slots[self.slot_index(moved, s.daughter)].name
            by_slots = {frozenset(d.slots): j for j, d in enumerate(self.classes)}
            moved_classes = [by_slots.get(frozenset(image[s] for s in c.slots)) for c in self.classes]
            if None in moved_classes:
                raise TopologyError(f"topology {self.name!r}: key 'CLASSES': relabelling the particles "
                                    "(PERMUTATIONS.EVENT) must map every class onto a class")
            out.append(tuple(moved_classes))
        return tuple(out)

    @cached_property
    def multiplicity(self) -> int:
        """Labelled assignments per distinct one: the particle relabellings times the orderings of
        every group of interchangeable daughters (8 for t tbar)."""
        orderings = math.prod(math.factorial(len(g)) for p in self.particles for g in p.symmetric)
        return len(self.particle_permutations) * orderings

    @cached_property
    def cascades(self) -> tuple[Cascade, ...]:
        """The decays of the particles that decay as cascades (the tops), in the particles' order."""
        out = []
        for p in self.particles:
            outer = self.resonances[p.resonance]
            if not any(d in self.resonances for d in outer.decay):
                continue
            inner = self.resonances[next(d for d in outer.decay if d in self.resonances)]
            spectator = next(d for d in outer.decay if d in self.daughters)
            first, second = (self.slot_index(p.name, d) for d in inner.decay)
            out.append(Cascade(p.name, p.charge, outer, inner, self.slot_index(p.name, spectator), (first, second)))
        return tuple(out)

    @cached_property
    def pairs(self) -> tuple[PairDecay, ...]:
        """The decays of the particles that decay into two partons (the Higgs), in the particles'
        order; none for t tbar."""
        return tuple(PairDecay(p.name, p.charge, self.resonances[p.resonance],
                               tuple(self.slot_index(p.name, d) for d in self.resonances[p.resonance].decay))
                     for p in self.particles if all(d in self.daughters for d in self.resonances[p.resonance].decay))

    @cached_property
    def pair_slots(self) -> tuple[tuple[int, int], ...]:
        """The two slots of each two-body decay (none for t tbar)."""
        return tuple(p.pair for p in self.pairs)

    @cached_property
    def cascade_slots(self) -> tuple[tuple[int, int, int], ...]:
        """(spectator, *pair) slots of each cascade."""
        return tuple(c.slots for c in self.cascades)

    @cached_property
    def cascade_resonances(self) -> tuple[Resonance, Resonance]:
        """(outer, inner): the resonances every cascade shares (the top and the W), whose masses
        the chi^2 and the likelihood use for every particle."""
        shared = {(c.outer, c.inner) for c in self.cascades}
        if len(shared) != 1:
            raise TopologyError(f"topology {self.name!r}: key 'PARTICLES': the fits need every cascade to decay "
                                f"alike, not as {sorted((o.name, i.name) for o, i in shared)}")
        return shared.pop()

    @cached_property
    def process_latex(self) -> str:
        """The signal process in figure labels, from its particles: `$t\\bar{t}$`, `$t\\bar{t}H$`."""
        return "$" + "".join(rf"\bar{{{s}}}" if anti else s for s, anti in self._process_symbols()) + "$"

    @cached_property
    def process_text(self) -> str:
        """The signal process in plain text, as log lines write it: `t tbar`, `t tbar H`."""
        return " ".join(f"{s}bar" if anti else s for s, anti in self._process_symbols())

    def _process_symbols(self) -> list[tuple[str, bool]]:
        """(symbol, is an antiparticle) per particle: a particle of negative charge is the
        antiparticle; a resonance without a symbol in SYMBOLS is written by its name."""
        return [(SYMBOLS.get(self.resonances[p.resonance].pdg_id, p.resonance), p.charge < 0) for p in self.particles]

    @cached_property
    def b_slots(self) -> tuple[int, ...]:
        """The slots of b quarks."""
        return tuple(i for i, s in enumerate(self.slots) if self.daughters[s.daughter].pdg_ids == (BOTTOM,))

    @cached_property
    def parton_masses(self) -> tuple[float, ...]:
        """The fits' parton mass of each slot, GeV."""
        return tuple(self.daughters[s.daughter].mass for s in self.slots)

    def event_file(self, features: list[str] | tuple[str, ...]) -> dict:
        """SPANet's event file (`event_info.yaml`) for datasets holding these jet features."""
        unknown = [f for f in features if f not in self.normalisation]
        if unknown:
            raise TopologyError(f"topology {self.name!r}: key 'INPUTS.SEQUENTIAL.Source' has no normalisation for "
                                f"{unknown}; add them ({sorted(self.normalisation)} are there)")
        permutations = {"EVENT": [list(g) for g in self.event_groups]} if self.event_groups else {}
        permutations.update({p.name: [list(g) for g in p.symmetric] for p in self.particles if p.symmetric})
        return {
            "INPUTS": {"SEQUENTIAL": {"Source": {f: self.normalisation[f] for f in features}},
                       "GLOBAL": copy.deepcopy(self.content["INPUTS"]["GLOBAL"])},
            "EVENT": {p.name: list(p.daughters) for p in self.particles},
            "PERMUTATIONS": permutations,
        }

    def provenance(self, masses: bool) -> dict[str, Any]:
        """The file's content as the artifacts' provenance records it, with or without the
        resonance masses and widths (which only the fits and the figures read)."""
        content = copy.deepcopy(self.content)
        if not masses:
            for resonance in content["RESONANCES"].values():
                del resonance["mass"], resonance["width"]
        return content


@cache
def load(path: str | Path = DEFAULT_PATH) -> Topology:
    """Read and check a topology file (once per path)."""
    path = Path(path)
    try:
        content = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise TopologyError(f"{path}: cannot read the topology file ({error})") from None
    validator = jsonschema.Draft202012Validator(yaml.safe_load(SCHEMA.read_text()))
    errors = sorted(validator.iter_errors(content), key=lambda e: list(e.absolute_path))
    if errors:
        raise TopologyError("\n".join(f"{path}: key {'.'.join(map(str, e.absolute_path)) or '(top level)'!r}: "
                                      f"{e.message}" for e in errors))
    topology = _build(path, content)
    _check(topology, path)
    return topology


def default() -> Topology:
    """The analysis's topology (`DEFAULT_PATH`)."""
    return load(DEFAULT_PATH)


def _build(path: Path, content: dict) -> Topology:
    permutations = content["PERMUTATIONS"]
    return Topology(
        name=path.stem,
        path=path,
        normalisation=dict(content["INPUTS"]["SEQUENTIAL"]["Source"]),
        particles=tuple(Particle(p, content["PARTICLES"].get(p, {}).get("resonance", ""),
                                 content["PARTICLES"].get(p, {}).get("charge", 0), tuple(daughters),
                                 tuple(tuple(g) for g in permutations.get(p, ())))
                        for p, daughters in content["EVENT"].items()),
        event_groups=tuple(tuple(g) for g in permutations.get("EVENT", ())),
        resonances={n: Resonance(n, r["pdg_id"], float(r["mass"]), float(r["width"]), tuple(r["decay"]))
                    for n, r in content["RESONANCES"].items()},
        daughters={n: Daughter(n, tuple(d["pdg_ids"]), float(d["mass"])) for n, d in content["DAUGHTERS"].items()},
        slots=tuple(Slot(n, s["particle"], s["daughter"], s["label"], s["latex"]) for n, s in content["SLOTS"].items()),
        classes=tuple(JetClass(n, tuple(c["slots"]), c["latex"]) for n, c in content["CLASSES"].items()),
        content=content,
    )


def _check(t: Topology, path: Path) -> None:
    """The cross-references a schema cannot check, each with the key and the fix."""
    def fail(key: str, message: str) -> None:
        raise TopologyError(f"{path}: key {key!r}: {message}")

    particles = {p.name: p for p in t.particles}
    if set(t.content["PARTICLES"]) != set(particles):
        fail("PARTICLES", f"name exactly the EVENT particles {sorted(particles)}, not {sorted(t.content['PARTICLES'])}")
    for key in t.content["PERMUTATIONS"]:
        if key != "EVENT" and key not in particles:
            fail(f"PERMUTATIONS.{key}", f"not EVENT nor an EVENT particle ({sorted(particles)})")
    _check_groups(fail, "PERMUTATIONS.EVENT", t.event_groups, set(particles))
    for group in t.event_groups:
        kinds = {(particles[n].resonance, particles[n].daughters, particles[n].symmetric) for n in group}
        if len(kinds) > 1:
            fail("PERMUTATIONS.EVENT", f"{list(group)} are interchangeable, so they need the same resonance, "
                 "daughters and permutations")
    for p in t.particles:
        _check_groups(fail, f"PERMUTATIONS.{p.name}", p.symmetric, set(p.daughters))
        if p.resonance not in t.resonances:
            fail(f"PARTICLES.{p.name}.resonance", f"{p.resonance!r} is not under RESONANCES ({sorted(t.resonances)})")
        _check_decay(fail, t, p)
    wanted = {(p.name, d) for p in t.particles for d in p.daughters}
    given = [(s.particle, s.daughter) for s in t.slots]
    if len(set(given)) != len(given) or set(given) != wanted:
        fail("SLOTS", f"one slot per EVENT daughter, each once: {sorted(wanted)}; given {given}")
    filled = [s for c in t.classes for s in c.slots]
    if sorted(filled) != sorted(t.slot_names):
        fail("CLASSES", f"every slot in exactly one class: {list(t.slot_names)}; given {filled}")
    if t.classes[-1].slots or not all(c.slots for c in t.classes[:-1]):
        fail("CLASSES", "the last class, and only it, fills no slot (the jets of no parton)")
    groups = {tuple(t.slot_names[i] for i in g) for g in t.symmetric_slots}
    for c in t.classes:
        if len(c.slots) > 1 and c.slots not in groups:
            fail(f"CLASSES.{c.name}", f"the slots {list(c.slots)} of one class are a group of interchangeable "
                 "daughters of one particle under PERMUTATIONS, in its order (jets fill them by pT)")
    for view in ("class_permutations", "cascade_resonances"):  # the views that check themselves
        getattr(t, view)


def _check_groups(fail, key: str, groups: tuple[tuple[str, ...], ...], allowed: set[str]) -> None:
    named = [n for g in groups for n in g]
    if len(set(named)) != len(named) or not set(named) <= allowed:
        fail(key, f"groups of {sorted(allowed)}, each name in one group at most; given {[list(g) for g in groups]}")


def _check_decay(fail, t: Topology, p: Particle) -> None:
    """The shapes every method here is written for: a cascade X -> a Y, Y -> b c, with b <-> c a
    symmetry and a, b, c the particle's daughters; or a two-body decay X -> a b into the
    particle's daughters, a <-> b a symmetry."""
    outer = t.resonances[p.resonance]
    if len(outer.decay) == 2 and set(outer.decay) <= set(t.daughters):
        _check_pair(fail, t, p, outer)
        return
    inner = [t.resonances[d] for d in outer.decay if d in t.resonances]
    spectator = [d for d in outer.decay if d in t.daughters]
    if len(outer.decay) != 2 or len(inner) != 1 or len(spectator) != 1 or len(inner[0].decay) != 2 or \
            not set(inner[0].decay) <= set(t.daughters):
        fail(f"RESONANCES.{p.resonance}.decay", "the analysis reads cascades X -> a Y, Y -> b c and two-body decays "
             f"X -> a b of DAUGHTERS a, b, c (t -> b W, W -> q q'; H -> b bbar); {p.resonance!r} decays into "
             f"{list(outer.decay)}")
    if p.charge == 0:
        fail(f"PARTICLES.{p.name}.charge", "a cascade's particle has a charge (1 or -1), which its b carries")
    (inner,), (spectator,) = inner, spectator
    if sorted((spectator, *inner.decay)) != sorted(p.daughters):
        fail(f"EVENT.{p.name}", f"the daughters {list(p.daughters)} differ from those of the decay of {p.resonance!r} "
             f"under RESONANCES ({[spectator, *inner.decay]})")
    if inner.decay not in p.symmetric:
        fail(f"PERMUTATIONS.{p.name}", f"the daughters {list(inner.decay)} of {inner.name!r} must be a group of "
             "interchangeable daughters (the harder one fills the first slot)")
    if len(t.daughters[spectator].pdg_ids) != 1 or t.daughters[inner.decay[0]].pdg_ids != t.daughters[inner.decay[1]].pdg_ids:
        fail("DAUGHTERS", f"{spectator!r} needs one PDG id, and {list(inner.decay)} the same ones")


def _check_pair(fail, t: Topology, p: Particle, resonance: Resonance) -> None:
    """X -> a b: a and b are the particle's daughters, interchangeable, and the same partons."""
    if sorted(resonance.decay) != sorted(p.daughters):
        fail(f"EVENT.{p.name}", f"the daughters {list(p.daughters)} differ from those of the decay of {p.resonance!r} "
             f"under RESONANCES ({list(resonance.decay)})")
    if tuple(resonance.decay) not in p.symmetric:
        fail(f"PERMUTATIONS.{p.name}", f"the daughters {list(resonance.decay)} of {p.resonance!r} must be a group of "
             "interchangeable daughters (the harder one fills the first slot)")
    first, second = (t.daughters[d].pdg_ids for d in resonance.decay)
    if first != second or len(first) != 1:
        fail("DAUGHTERS", f"{list(resonance.decay)} of a two-body decay need the same single PDG id")


TOPOLOGY = default()
"""The analysis's topology, read at import."""
