"""Hand-built events written the way ROOT shows real Delphes files (`Jet.PT` leaves)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

PARTICLE_FIELDS = ("PID", "Status", "M1", "M2", "D1", "D2", "PT", "Eta", "Phi", "Mass")


def jets_record(jets: list[list[tuple]]) -> ak.Array:
    """`jets[event] = [(pt, eta, phi, btag), ...]`."""
    def field(i, dtype):
        return ak.values_astype(ak.Array([[jet[i] for jet in event] for event in jets]), dtype)

    return ak.zip({"PT": field(0, np.float32), "Eta": field(1, np.float32), "Phi": field(2, np.float32),
                   "Mass": ak.values_astype(field(0, np.float32) * 0 + 5, np.float32),
                   "BTag": field(3, np.uint32)})


def write_delphes(path: Path, jets: list[list[tuple]], particles: list[list[dict]] | None = None,
                  numbers: list[int] | None = None, weights: list[float] | None = None) -> Path:
    n = len(jets)
    numbers = numbers if numbers is not None else list(range(n))
    weights = weights if weights is not None else [1.0] * n
    collections = {
        "Event": ak.zip({"Number": ak.Array([[x] for x in numbers]), "Weight": ak.Array([[w] for w in weights])}),
        "Jet": jets_record(jets),
    }
    if particles is not None:
        collections["Particle"] = ak.zip({
            f: ak.values_astype(ak.Array([[p[f] for p in event] for event in particles]),
                                np.int32 if f in ("PID", "Status", "M1", "M2", "D1", "D2") else np.float32)
            for f in PARTICLE_FIELDS})
    with uproot.recreate(path) as f:
        f.mktree("Delphes", {k: v.type.content for k, v in collections.items()},
                 counter_name=lambda c: f"{c}_size", field_name=lambda o, i: f"{o}.{i}")
        f["Delphes"].extend(collections)
    return path


def particle(pid: int, m1: int = -1, d1: int = -1, d2: int = -1, pt: float = 50.0, eta: float = 0.0,
             phi: float = 0.0, status: int = 23) -> dict:
    return {"PID": pid, "Status": status, "M1": m1, "M2": -1, "D1": d1, "D2": d2, "PT": pt, "Eta": eta,
            "Phi": phi, "Mass": 0.0}


def ttbar_record(etas: list[float], phis: list[float]) -> list[dict]:
    """A t tbar -> b q q' bbar q q' record in Delphes indexing, with recoil copies of the top and
    the W+ the way a full shower record has them; partons at (eta, phi) in slot order
    b1, q1_1, q2_1, b2, q1_2, q2_2 (q1 given the higher pT)."""
    return [
        particle(6, d1=2, d2=2, status=22),                                               # 0 t
        particle(-6, d1=3, d2=3, status=22),                                              # 1 tbar
        particle(6, m1=0, d1=4, d2=5, status=44),                                         # 2 t copy
        particle(-6, m1=1, d1=6, d2=7, status=44),                                        # 3 tbar copy
        particle(5, m1=2, pt=60, eta=etas[0], phi=phis[0]),                               # 4 b
        particle(24, m1=2, d1=8, d2=8, status=22),                                        # 5 W+
        particle(-5, m1=3, pt=60, eta=etas[3], phi=phis[3]),                              # 6 bbar
        particle(-24, m1=3, d1=10, d2=11, status=22),                                     # 7 W-
        particle(24, m1=5, d1=12, d2=13, status=44),                                      # 8 W+ copy
        particle(21, status=43),                                                          # 9 gluon
        particle(1, m1=7, pt=70, eta=etas[4], phi=phis[4]),                               # 10 d
        particle(-2, m1=7, pt=40, eta=etas[5], phi=phis[5]),                              # 11 ubar
        particle(-1, m1=8, pt=30, eta=etas[2], phi=phis[2]),                              # 12 dbar (softer)
        particle(2, m1=8, pt=80, eta=etas[1], phi=phis[1]),                               # 13 u (harder)
    ]


def copy_collections(source: Path, path: Path, spec: Mapping[str, Sequence[str]]) -> Path:
    """Only the `spec = {collection: fields}` of a file, in real Delphes' `Jet.PT` spelling (e.g.
    constituents without the JetIndex that only our generator writes)."""
    from analysis.events.delphes import read

    return write_collections(path, read(source, spec))


def write_collections(path: Path, arrays: Mapping[str, ak.Array]) -> Path:
    """`arrays = {collection: jagged records}` as a Delphes tree in the `Jet.PT` spelling."""
    with uproot.recreate(path) as f:
        f.mktree("Delphes", {k: v.type.content for k, v in arrays.items()},
                 counter_name=lambda c: f"{c}_size", field_name=lambda o, i: f"{o}.{i}")
        f["Delphes"].extend(dict(arrays))
    return path


DUPLICATE_PLACEHOLDER = "Pxrticle"


def write_duplicate_particle_branches(path: Path) -> Path:
    """Two events with two collections both named `Particle`: a particle record (one hadronic
    t tbar chain, then an empty event) and, second, a jet-like collection, as Delphes wrote it
    in scikit-hep-testdata's uproot-issue513.root (10 events, 1.2 MB: too large to keep here).

    uproot cannot write two branches of one name, so the second collection is written as
    `Pxrticle` (same length as `Particle`) without compression, and every occurrence of that
    name in the file's bytes (branch and leaf names, counter, basket keys) is then overwritten
    with `Particle`: no length or offset changes, and uncompressed ROOT records carry no checksum.
    """
    chain = ttbar_record([0.0, 1.0, -1.0, 2.0, -2.0, 0.5], [0.0, 1.0, 2.0, 3.0, -1.0, -2.0])
    particles = ak.zip({
        f: ak.values_astype(ak.Array([[p[f] for p in chain], []]),
                            np.int32 if f in ("PID", "Status", "M1", "M2", "D1", "D2") else np.float32)
        for f in PARTICLE_FIELDS})
    jets = jets_record([[(50.0, 0.1, 0.2, 1), (40.0, -0.3, 1.0, 0)], [(35.0, 1.0, -2.0, 0)]])
    collections = {"Event": ak.zip({"Number": ak.Array([[0], [1]]), "Weight": ak.Array([[1.0], [1.0]])}),
                   "Jet": jets, "Particle": particles, DUPLICATE_PLACEHOLDER: jets}
    with uproot.recreate(path, compression=None) as f:
        f.mktree("Delphes", {k: v.type.content for k, v in collections.items()},
                 counter_name=lambda c: f"{c}_size", field_name=lambda o, i: f"{o}/{o}.{i}")
        f["Delphes"].extend(collections)
    data = path.read_bytes()
    assert DUPLICATE_PLACEHOLDER.encode() in data, "uproot compressed the branch names: nothing to rename"
    path.write_bytes(data.replace(DUPLICATE_PLACEHOLDER.encode(), b"Particle"))
    return path


def write_unclosed(source: Path, path: Path) -> Path:
    """`source` as ROOT leaves a file that was never closed (Delphes killed, or out of time):
    the baskets are on disk, but the header still holds what TFile wrote when it created the
    file: no key list (the top directory's fSeekKeys = 0), no streamer record, no free-segment
    list, and fEND just past the top directory's key. uproot writers keep their files consistent
    at every step, so killing one does not make such a file: the header is patched instead."""
    import struct

    data = bytearray(source.read_bytes())
    header = struct.Struct(">4siiiiiiiBiii")  # small (32-bit) TFile header, up to fNbytesInfo
    magic, version, begin, _, _, _, _, nbytes_name, units, compress, _, _ = header.unpack_from(data)
    assert magic == b"root" and version < 1_000_000, "a 64-bit header: extend the patch"
    top_key_bytes = struct.unpack_from(">i", data, begin)[0]
    header.pack_into(data, 0, magic, version, begin, begin + top_key_bytes, 0, 0, 0, nbytes_name, units,
                     compress, 0, 0)
    directory = struct.Struct(">hIIiiiii")  # small TDirectory record: ..., fSeekKeys last
    fields = list(directory.unpack_from(data, begin + nbytes_name))
    assert fields[0] < 1000, "a 64-bit directory record: extend the patch"
    fields[3], fields[7] = 0, 0  # fNbytesKeys, fSeekKeys
    directory.pack_into(data, begin + nbytes_name, *fields)
    path.write_bytes(bytes(data))
    return path
