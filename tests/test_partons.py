"""Finding the six t tbar decay partons in a Delphes particle record."""
from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from analysis.core.jagged import Columns
from analysis.core.kinematics import pt_eta_phi_mass
from analysis.events.particles import ChargeTable, FlatRecord, hard_process
from analysis.events.pythia import GeneratorSettings, PythiaRun
from analysis.partons import PARTON_FIELDS
from analysis.partons import find_partons as find_in_columns

from .delphes_builders import particle, ttbar_record

pytestmark = pytest.mark.xdist_group("pipeline")  # one worker builds the shared pipeline fixture


def find_partons(particles: ak.Array) -> ak.Array:
    return find_in_columns(Columns.of(particles, PARTON_FIELDS)).to_awkward()


def as_particles(events: list[list[dict]]) -> ak.Array:
    return ak.zip({f: ak.Array([[p[f] for p in ev] for ev in events]) for f in PARTON_FIELDS})


def full_record_as_delphes(batch: ak.Array) -> ak.Array:
    """Pythia's full event record in Delphes indexing: no system entry, 0-based links, -1 = none."""
    prt = batch["prt"][:, 1:]
    counts = ak.num(prt)
    kinematics = pt_eta_phi_mass(*(ak.to_numpy(ak.flatten(prt.p[c])) for c in ("px", "py", "pz", "e")))
    pt, eta, phi, mass = (ak.unflatten(x, counts) for x in kinematics)

    def link(index):
        return ak.where(index > 0, index - 1, -1)

    return ak.zip({"PID": prt.id, "M1": link(prt.mother1), "D1": link(prt.daughter1), "D2": link(prt.daughter2),
                   "PT": pt, "Eta": eta, "Phi": phi, "Mass": mass})


def test_full_shower_record_and_hard_process_list_give_the_same_partons():
    """A real Delphes file carries Pythia's full record (copies of t and W through recoil and
    radiation); our generator writes the short hard-process list. Same events, same partons."""
    run = PythiaRun(GeneratorSettings(process="ttbar_allhad", seed=11))
    batch = next(run.batches(300, 300))
    fields, counts = hard_process(FlatRecord.from_batch(batch), ChargeTable(run.charge))
    short = ak.unflatten(ak.zip({f: fields[f] for f in PARTON_FIELDS}), counts)
    from_short, from_full = find_partons(short), find_partons(full_record_as_delphes(batch))
    assert ak.all(ak.num(from_short) == 6) and ak.all(ak.num(from_full) == 6)
    assert ak.to_list(from_short.pid) == ak.to_list(from_full.pid)
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(from_short.pt)), ak.to_numpy(ak.flatten(from_full.pt)))


def test_slots_follow_top_charge_and_w_daughter_pt():
    partons = find_partons(as_particles([ttbar_record([0, 1, 2, 3, 4, 5], [0.0] * 6)]))
    assert ak.to_list(partons.pid) == [[5, 2, -1, -5, 1, -2]]
    assert ak.to_list(partons.eta) == [[0, 1, 2, 3, 4, 5]]
    pt = ak.to_numpy(partons.pt)[0]
    assert pt[1] >= pt[2] and pt[4] >= pt[5]


def test_leptonic_w_or_missing_top_gives_no_partons():
    leptonic = ttbar_record([0] * 6, [0] * 6)
    leptonic[10]["PID"], leptonic[11]["PID"] = 11, -12  # W- -> e nu
    no_tops = [particle(21, d1=1, d2=2, status=21), particle(1), particle(-1)]
    partons = find_partons(as_particles([leptonic, no_tops, ttbar_record([0] * 6, [0] * 6)]))
    assert ak.to_list(ak.num(partons)) == [0, 0, 6]


def test_generated_partons_have_w_and_top_masses(pipeline):
    """Every generated event has the chain; m(q q') peaks at m_W, m(b q q') at m_t."""
    partons = ak.from_parquet(pipeline.skim["ttbar"]).partons
    assert ak.all(ak.num(partons) == 6)
    import vector

    p4 = vector.zip({"pt": partons.pt, "eta": partons.eta, "phi": partons.phi, "mass": partons.mass})
    w = ak.to_numpy((p4[:, 1] + p4[:, 2]).mass)
    top = ak.to_numpy((p4[:, 0] + p4[:, 1] + p4[:, 2]).mass)
    assert abs(np.median(w) - 80.4) < 1.0
    assert abs(np.median(top) - 172.5) < 1.0


def test_events_without_particles_have_no_partons():
    empty = ak.zip({f: ak.Array([[], []]) for f in PARTON_FIELDS})
    assert ak.to_list(ak.num(find_partons(empty))) == [0, 0]
