"""Physics closure of the embedded ttbar generation, read back through the Delphes reader."""
from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import vector

from analysis.events.delphes import PARTICLE_FIELDS, read

vector.register_awkward()


@pytest.fixture(scope="module")
def particles(ttbar_file):
    return read(ttbar_file, {"Particle": PARTICLE_FIELDS + ("Px", "Py", "Pz", "E")})["Particle"]


def _p4(particles, index):
    picked = particles[index]
    return vector.zip({"px": picked.Px, "py": picked.Py, "pz": picked.Pz, "E": picked.E})


def test_every_event_has_two_tops_decaying_to_b_and_hadronic_w(particles):
    pid = particles.PID
    assert ak.all(ak.sum(pid == 6, axis=1) == 1) and ak.all(ak.sum(pid == -6, axis=1) == 1)
    tops = ak.local_index(pid)[abs(pid) == 6]
    top_d1, top_d2 = particles.D1[tops], particles.D2[tops]
    daughters = ak.concatenate([particles.PID[top_d1][..., None], particles.PID[top_d2][..., None]], axis=-1)
    sorted_ids = ak.sort(abs(daughters), axis=-1)
    assert ak.all(sorted_ids[..., 0] == 5) and ak.all(sorted_ids[..., 1] == 24)
    ws = ak.local_index(pid)[abs(pid) == 24]
    assert ak.all(ak.num(ws) == 2)
    w_daughters = ak.concatenate([particles.PID[particles.D1[ws]][..., None],
                                  particles.PID[particles.D2[ws]][..., None]], axis=-1)
    assert ak.all((abs(w_daughters) >= 1) & (abs(w_daughters) <= 5)), "a W decayed to something other than quarks"
    # each W daughter points back to its W
    assert ak.all(particles.M1[particles.D1[ws]] == ws)


def test_parton_level_top_and_w_mass_peaks(particles):
    pid = particles.PID
    tops = ak.local_index(pid)[abs(pid) == 6]
    top_mass = (_p4(particles, particles.D1[tops]) + _p4(particles, particles.D2[tops])).mass
    ws = ak.local_index(pid)[abs(pid) == 24]
    w_mass = (_p4(particles, particles.D1[ws]) + _p4(particles, particles.D2[ws])).mass
    top_peak = _histogram_peak(ak.to_numpy(ak.flatten(top_mass)), 160, 185)
    w_peak = _histogram_peak(ak.to_numpy(ak.flatten(w_mass)), 70, 90)
    assert top_peak == pytest.approx(172.5, abs=1.0)
    assert w_peak == pytest.approx(80.4, abs=1.0)


def _histogram_peak(values: np.ndarray, low: float, high: float) -> float:
    """Median of the core of a Breit-Wigner: robust estimate of its peak."""
    core = values[(values > low) & (values < high)]
    return float(np.median(core))


def test_qcd_hard_process_links(qcd_file):
    particles = read(qcd_file, {"Particle": PARTICLE_FIELDS})["Particle"]
    incoming = particles[particles.Status == 21]
    outgoing = particles[particles.Status == 23]
    assert ak.all(ak.num(incoming) == 2) and ak.all(ak.num(outgoing) == 2)
    # both outgoing partons of the 2 -> 2 point back to the two incoming ones
    assert ak.all(outgoing.M1 == 0) and ak.all(outgoing.M2 == 1)
    assert ak.all(incoming.D1 == 2) and ak.all(incoming.D2 == 3)
    assert ak.all(outgoing.PT > 300 - 1e-3), "pTHat floor respected"
