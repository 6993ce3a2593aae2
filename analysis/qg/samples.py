"""Dijet jets for the quark/gluon study (seed 004): the two leading jets of each selected event,
their truth flavour, jet shapes and padded constituents, in one HDF5 file per sample.

* Selection: both leading jets above `jet_pt_min` and inside `jet_eta_max` (tracker coverage,
  so that charged constituents are measured), pT balance pT1 / pT2 < `balance_max`.
* Central jet = the one with lower |eta| (gluon enriched), forward jet = higher |eta| (quark
  enriched).
* Truth flavour: |PDG id| of the hardest outgoing hard-process parton (Pythia status 23) within
  `truth_delta_r` of the jet axis, 0 when there is none. This is the hard-process variant of the
  seed's "hardest ghost-associated parton": our event files keep only the hard process, and at
  R = 0.4 the two definitions differ only for jets far from both partons. Quark jets are those
  with |PDG| 1-5; every other jet with truth (gluon, or no parton near it: ~8 %, mostly hard
  gluon radiation) is in the gluon class, so the two classes add up to the forward and central
  mixtures the calibration unfolds. Files without a Particle collection (real data) get
  flavour -1 (unknown).
* Constituents: `JetIndex` links them to their jet in our files; Delphes files have no such
  field (the Jet.Constituents references are not readable with uproot), so there each
  candidate goes to the nearer leading jet when within the jet radius.
* Set: train / val / test by the hash of (seed, sample, file, event) of analysis.datasets; both
  jets of an event share it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import awkward as ak
import h5py
import numpy as np

from analysis import matching
from analysis.config import Config, QGStudy
from analysis.core.jagged import padded
from analysis.core.keys import file_keys
from analysis.core.kinematics import wrap_phi
from analysis.core.provenance import atomic_output
from analysis.datasets import H5_OPTIONS, assign_sets, split_fractions
from analysis.events import delphes
from analysis.events.jets import shape_moments
from analysis.normalisation import weight_scales

RAW_CONSTITUENT_FIELDS = ("pt_rel", "e_rel", "deta", "dphi", "charged", "photon")
"""Per-constituent inputs stored for the tagger (analysis.qg.tagger derives its features):
pT / pT_jet, E / pT_jet, eta - eta_jet, phi - phi_jet in [-pi, pi), 1 if charged, 1 if photon."""
SHAPE_INPUTS = ("ptd", "axis_major", "axis_minor", "multiplicity", "n_charged")
"""The jet-shape baseline's inputs, computed from each jet's full constituent list."""
CANDIDATE_FIELDS = ("PT", "Eta", "Phi", "E", "Charge", "PID")
HARD_PARTON_STATUS = 23
PHOTON = 22
UNLABELLED, UNKNOWN = 0, -1


class QGSampleError(ValueError):
    """A q/g sample that cannot be used; the message names the sample, the file and the fix."""


def is_quark(flavour: np.ndarray) -> np.ndarray:
    return (flavour >= 1) & (flavour <= 5)


def is_gluon(flavour: np.ndarray) -> np.ndarray:
    """The gluon class: every jet with truth that is not a quark jet (module docstring)."""
    return (flavour >= UNLABELLED) & ~is_quark(flavour)


def select_dijets(pt: ak.Array, eta: ak.Array, study: QGStudy) -> tuple[np.ndarray, np.ndarray]:
    """(selected events, (events, 2) indices of their leading and subleading jets)."""
    order = ak.argsort(pt, axis=1, ascending=False)
    two = ak.num(pt) >= 2
    leading = ak.to_numpy(ak.fill_none(ak.pad_none(order, 2, axis=1, clip=True), 0))
    pt_two, eta_two = _take(pt, leading), _take(eta, leading)
    keep = (ak.to_numpy(two) & (pt_two[:, 1] > study.jet_pt_min)
            & (np.abs(eta_two) < study.jet_eta_max).all(axis=1)
            & (pt_two[:, 0] < study.balance_max * pt_two[:, 1]))
    return np.flatnonzero(keep), leading[keep]


def _take(values: ak.Array, index: np.ndarray) -> np.ndarray:
    """values[event, index[event, k]] as a dense (events, k) array (0 where a list is short)."""
    return np.take_along_axis(padded(values, max(int(ak.max(ak.num(values), initial=0)), 2), 0.0), index, axis=1)


def truth_flavour(jet_eta: np.ndarray, jet_phi: np.ndarray, particles: ak.Array, delta_r: float) -> np.ndarray:
    """|PDG id| of the hardest outgoing hard-process parton within `delta_r` of each jet, or 0.
    `jet_eta`, `jet_phi` are (events, jets); `particles` the events' Particle records."""
    pid = np.abs(particles.PID)
    partons = particles[(particles.Status == HARD_PARTON_STATUS) & (is_quark(pid) | (pid == 21))]
    n_max = max(int(ak.max(ak.num(partons), initial=0)), 1)
    p_pt, p_eta, p_phi = (padded(partons[f], n_max, 0.0) for f in ("PT", "Eta", "Phi"))
    p_pid = padded(np.abs(partons.PID), n_max, 0.0).astype(np.int32)
    distance = matching.delta_r(jet_eta[:, :, None], jet_phi[:, :, None], p_eta[:, None, :], p_phi[:, None, :])
    candidate_pt = np.where((distance < delta_r) & (p_pt[:, None, :] > 0), p_pt[:, None, :], -1.0)
    best = candidate_pt.argmax(axis=2)
    found = np.take_along_axis(candidate_pt, best[:, :, None], axis=2)[:, :, 0] > 0
    return np.where(found, np.take_along_axis(np.broadcast_to(p_pid[:, None, :], candidate_pt.shape),
                                              best[:, :, None], axis=2)[:, :, 0], UNLABELLED)


def constituent_jet(candidates: ak.Array, jet_index: np.ndarray, jet_eta: np.ndarray, jet_phi: np.ndarray,
                    radius: float) -> ak.Array:
    """Per candidate, 0 or 1 for the leading or subleading jet it belongs to, -1 for neither.
    `jet_index` (events, 2) are the jets' positions in the Jet collection."""
    if "JetIndex" in candidates.fields:
        index = candidates.JetIndex
        return ak.where(index == jet_index[:, 0], 0, ak.where(index == jet_index[:, 1], 1, -1))
    distance = [matching.delta_r(candidates.Eta, candidates.Phi, jet_eta[:, k], jet_phi[:, k]) for k in (0, 1)]
    nearer = ak.where(distance[1] < distance[0], 1, 0)
    return ak.where(ak.where(nearer == 1, distance[1], distance[0]) < radius, nearer, -1)


def jet_constituents(candidates: ak.Array, owner: ak.Array, jet_pt: np.ndarray, jet_eta: np.ndarray,
                     jet_phi: np.ndarray, max_constituents: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """(raw inputs (jets, N, 6), mask (jets, N), shapes) for the (events, 2) jets, jet-major
    order: event 0 jet 0, event 0 jet 1, event 1 jet 0, ..."""
    per_jet = ak.concatenate([candidates[owner == k][:, None] for k in (0, 1)], axis=1)
    per_jet = ak.flatten(per_jet, axis=1)  # one list per jet
    per_jet = per_jet[ak.argsort(per_jet.PT, axis=1, ascending=False)]
    flat_pt, flat_eta, flat_phi = (jet.reshape(-1) for jet in (jet_pt, jet_eta, jet_phi))
    counts = ak.to_numpy(ak.num(per_jet))
    if (counts == 0).any():
        raise QGSampleError(f"{int((counts == 0).sum())} selected jets have no constituents")
    jet_of = np.repeat(np.arange(len(counts)), counts)
    pt = ak.to_numpy(ak.flatten(per_jet.PT)).astype(np.float64)
    d_eta = ak.to_numpy(ak.flatten(per_jet.Eta)) - flat_eta[jet_of]
    d_phi = wrap_phi(ak.to_numpy(ak.flatten(per_jet.Phi)) - flat_phi[jet_of])
    ptd, major, minor = shape_moments(jet_of, len(counts), pt, d_eta, d_phi)
    charged = ak.to_numpy(ak.flatten(per_jet.Charge)) != 0
    shapes = {"ptd": ptd, "axis_major": major, "axis_minor": minor, "multiplicity": counts.astype(np.float64),
              "n_charged": np.bincount(jet_of[charged], minlength=len(counts)).astype(np.float64)}

    columns = (pt / flat_pt[jet_of], ak.to_numpy(ak.flatten(per_jet.E)) / flat_pt[jet_of], d_eta, d_phi,
               charged, np.abs(ak.to_numpy(ak.flatten(per_jet.PID))) == PHOTON)
    position = np.arange(len(jet_of)) - np.repeat(np.cumsum(counts) - counts, counts)
    kept = position < max_constituents
    raw = np.zeros((len(counts), max_constituents, len(RAW_CONSTITUENT_FIELDS)), np.float32)
    raw[jet_of[kept], position[kept]] = np.stack(columns, axis=1)[kept]
    mask = np.zeros((len(counts), max_constituents), bool)
    mask[jet_of[kept], position[kept]] = True
    return raw, mask, shapes


def process_step(arrays: dict[str, ak.Array], path: Path, file_index: int, scale: float, cfg: Config, sample: str,
                 has_particles: bool, file_key: str) -> dict[str, np.ndarray]:
    """The selected jets of one read step as flat columns (jets, ...); `file_key` names the file
    uniquely within the sample (it seeds the split)."""
    study = cfg.qg
    jets = arrays["Jet"]
    events, leading = select_dijets(jets.PT, jets.Eta, study)
    if len(events) == 0:
        return {}
    jets = jets[events]
    pt, eta, phi, mass = (_take(jets[f], leading) for f in ("PT", "Eta", "Phi", "Mass"))
    if not (np.isfinite(pt).all() and np.isfinite(eta).all() and np.isfinite(phi).all()):
        raise QGSampleError(f"{path}: sample {sample!r}: NaN or infinite jet kinematics in the selected dijets; "
                            "the file is corrupt or was written with a broken detector card")
    candidates = arrays["ParticleFlowCandidate"][events]
    owner = constituent_jet(candidates, leading, eta, phi, cfg.detector["jet_radius"])
    try:
        raw, mask, shapes = jet_constituents(candidates, owner, pt, eta, phi, study.max_constituents)
    except QGSampleError as err:
        raise QGSampleError(f"{path}: sample {sample!r}: {err}; were the constituents written for these jets?") from None
    flavour = (truth_flavour(eta, phi, arrays["Particle"][events], study.truth_delta_r) if has_particles
               else np.full(pt.shape, UNKNOWN))
    numbers = ak.to_numpy(arrays["Event"].Number[events, 0]).astype(np.int64)
    weight = ak.to_numpy(arrays["Event"].Weight[events, 0]).astype(np.float64) * scale
    set_index = assign_sets(split_fractions(cfg.seed, sample, np.full(len(events), file_key), numbers),
                            study.fractions)
    forward = np.abs(eta) >= np.abs(eta[:, ::-1])
    forward[:, 1] &= ~forward[:, 0]  # equal |eta|: the leading jet counts as forward
    columns = {"pt": pt, "eta": eta, "phi": phi, "mass": mass, "forward": forward, "flavour": flavour,
               "weight": np.repeat(weight, 2), "event": np.repeat(numbers, 2), "set": np.repeat(set_index, 2),
               "file": np.full(2 * len(events), file_index, dtype=np.int32)}
    out = {name: np.asarray(v).reshape(-1) for name, v in columns.items()}
    out.update({f"shape_{k}": v for k, v in shapes.items()})
    out["constituents"], out["mask"] = raw, mask
    return out


def read_spec(path: Path) -> tuple[dict[str, tuple[str, ...]], bool]:
    """The branches to read from one file, and whether it has the truth partons."""
    fields = delphes.available_fields(delphes.open_tree(path))
    candidate_fields = CANDIDATE_FIELDS + (("JetIndex",) if "JetIndex" in fields.get("ParticleFlowCandidate", ()) else ())
    spec = {"Event": ("Number", "Weight"), "Jet": ("PT", "Eta", "Phi", "Mass"),
            "ParticleFlowCandidate": candidate_fields}
    has_particles = "Particle" in fields
    if has_particles:
        spec["Particle"] = ("PID", "Status", "PT", "Eta", "Phi")
    return spec, has_particles


def steps(cfg: Config, sample: str, files: Sequence[str | Path]) -> Iterator[dict[str, np.ndarray]]:
    """The selected jets of `sample`'s files, one read step at a time (memory stays flat)."""
    scales = weight_scales(cfg.event_samples()[sample], files)
    keys = file_keys(files)
    with_truth = []
    for file_index, path in enumerate(map(Path, files)):
        spec, has_particles = read_spec(path)
        with_truth.append(has_particles)
        if sample == cfg.qg.mc and not has_particles:
            raise QGSampleError(f"{path}: sample {sample!r} is the q/g study's MC but has no Particle collection; "
                                "the truth flavour needs the hard-process partons (keep Particle in the Delphes card)")
        if with_truth[0] != has_particles:
            raise QGSampleError(f"{path}: sample {sample!r} mixes files with and without the Particle collection "
                                f"(unlike {files[0]}); give a sample either truth in every file or in none")
        for _, arrays in delphes.iterate([path], spec, cfg.read_step):
            step = process_step(arrays, path, file_index, scales[str(path)], cfg, sample, has_particles,
                                keys[str(path)])
            if step:
                yield step


def check(cfg: Config, sample: str, files: Sequence[str | Path], flavour: np.ndarray) -> None:
    """A QGSampleError when the selection is empty, or the MC has no quark jet."""
    if len(flavour) == 0:
        raise QGSampleError(
            f"sample {sample!r}: no event passes the dijet selection (two leading jets with pT > "
            f"{cfg.qg.jet_pt_min} GeV, |eta| < {cfg.qg.jet_eta_max}, pT balance < {cfg.qg.balance_max}); "
            "check qg.selection against the sample's pTHat range"
        )
    if sample == cfg.qg.mc and not is_quark(flavour).any():
        raise QGSampleError(f"sample {sample!r}: no jet has a quark within Delta R {cfg.qg.truth_delta_r} among the "
                            f"outgoing hard-process partons (Particle status {HARD_PARTON_STATUS}) of {files[0]}...; "
                            "the truth flavour follows Pythia's status codes, which these files do not have")


def build(cfg: Config, sample: str, files: Sequence[str | Path]) -> dict[str, np.ndarray]:
    """Every selected jet of `sample`'s files in memory (the `qg_samples` stage streams them to a file)."""
    parts = list(steps(cfg, sample, files))
    jets = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {"flavour": np.zeros(0)}
    check(cfg, sample, files, jets["flavour"])
    return jets


def write(path: str | Path, parts: Iterable[dict[str, np.ndarray]], sample: str,
          validate: Callable[[np.ndarray], None]) -> dict[str, np.ndarray]:
    """Append the parts to resizable datasets of a new HDF5 file; `validate(flavour)` runs before
    the file is renamed into place, so a sample that fails it leaves nothing behind. Returns the
    small per-jet columns (flavour, set) for the census."""
    kept: dict[str, list[np.ndarray]] = {"flavour": [], "set": []}
    with atomic_output(path) as tmp, h5py.File(tmp, "w", track_order=True) as f:
        f.attrs["sample"] = sample
        f.attrs["constituent_fields"] = list(RAW_CONSTITUENT_FIELDS)
        for part in parts:
            for name, values in part.items():
                if name in f:
                    f[name].resize(len(f[name]) + len(values), axis=0)
                    f[name][-len(values):] = values
                else:
                    f.create_dataset(name, data=values, maxshape=(None, *values.shape[1:]),
                                     chunks=(1024, *values.shape[1:]), **H5_OPTIONS)
            for name, columns in kept.items():
                columns.append(part[name])
        columns = {name: np.concatenate(v) if v else np.zeros(0, np.int32) for name, v in kept.items()}
        validate(columns["flavour"])
    return columns


def load(path: str | Path, constituents: bool = True) -> dict[str, np.ndarray]:
    """A q/g sample file as arrays (constituents and mask only when asked: they are large)."""
    with h5py.File(path, "r") as f:
        return {k: f[k][()] for k in f if constituents or k not in ("constituents", "mask")}


def sample_name(path: str | Path) -> str:
    with h5py.File(path, "r") as f:
        return str(f.attrs["sample"])
