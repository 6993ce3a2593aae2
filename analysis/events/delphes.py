"""Delphes-layout ROOT I/O: one writer for the embedded generator, one reader for every stage.

The reader accepts both spellings a Delphes tree shows through uproot: `Jet/Jet.PT` (the full
path of a split TClonesArray, as Delphes writes it and as coffea's DelphesSchema expects) and
`Jet.PT` (the leaf name ROOT prints). The writer uses the full-path spelling, so coffea reads
our files as it reads real Delphes output.
"""
from __future__ import annotations

import contextlib
import datetime
import os
import stat
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

TREE = "Delphes"
REPRODUCIBLE_TIMESTAMP = datetime.datetime(2000, 1, 1)

JET_KINEMATICS = ("PT", "Eta", "Phi", "Mass", "BTag")
PARTICLE_FIELDS = ("PID", "Status", "M1", "M2", "D1", "D2", "PT", "Eta", "Phi", "Mass")


class DelphesInputError(Exception):
    """A Delphes input file that cannot be used; the message names the file and the fix."""


def branch_name(collection: str, field: str) -> str:
    return f"{collection}/{collection}.{field}"


def counter_name(collection: str) -> str:
    return f"{collection}_size"


# ----------------------------------------------------------------------------- writing


class DelphesWriter:
    """Streams collections of flat arrays into a `Delphes` TTree, batch after batch.

    ROOT headers carry wall-clock stamps and random UUIDs; both are fixed here (the UUID from
    `file_id`) so that the same configuration gives byte-identical files.
    """

    def __init__(self, path: str | Path, file_id: str):
        self.path = Path(path)
        self._uuid = uuid.uuid5(uuid.NAMESPACE_URL, file_id)
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(_frozen_uproot_clock())
        self._file = self._stack.enter_context(uproot.recreate(self.path, uuid_function=lambda: self._uuid))
        self._tree = None

    def extend(self, collections: Mapping[str, tuple[Mapping[str, np.ndarray], np.ndarray]]) -> None:
        """Append one batch: `collections[name] = (flat fields, per-event counts)`."""
        data = {
            name: ak.unflatten(ak.zip(dict(fields), depth_limit=1), counts)
            for name, (fields, counts) in collections.items()
        }
        if self._tree is None:
            self._tree = self._file.mktree(
                TREE,
                {name: array.type.content for name, array in data.items()},
                title="Analysis tree",
                counter_name=counter_name,
                field_name=branch_name,
            )
        self._tree.extend(data)

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> DelphesWriter:
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False


@contextlib.contextmanager
def _frozen_uproot_clock():
    """uproot stamps TFile/TKey headers with datetime.now(); pin it while we write."""
    from uproot.writing import _cascade, _cascadetree, writable

    class _Frozen(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return REPRODUCIBLE_TIMESTAMP

    class _Module:
        datetime = _Frozen

    modules = (_cascade, _cascadetree, writable)
    saved = [m.datetime for m in modules]
    for m in modules:
        m.datetime = _Module
    try:
        yield
    finally:
        for m, original in zip(modules, saved, strict=True):
            m.datetime = original


# ----------------------------------------------------------------------------- reading


def open_tree(path: str | Path):
    """The `Delphes` tree of `path`, or a DelphesInputError that says what is wrong and how to fix it."""
    path = Path(path)
    _check_regular_file(path)
    magic = _first_bytes(path)
    if magic != b"root":
        raise DelphesInputError(
            f"{path}: not a ROOT file (starts with {magic!r}, not b'root'). "
            "Point the sample to the Delphes output (.root) files."
        )
    try:
        file = uproot.open(path)
        keys = file.keys(cycle=False)
    except Exception as err:
        raise DelphesInputError(
            f"{path}: corrupt or truncated ROOT file ({type(err).__name__}: {err}). "
            "Re-copy the file or rerun Delphes for it."
        ) from err
    if TREE not in keys:
        raise DelphesInputError(
            f"{path}: no '{TREE}' tree (found: {sorted(keys) or 'nothing'}). "
            "This workflow reads DelphesHepMC/DelphesPythia8 output, whose tree is named 'Delphes'."
        )
    try:
        tree = file[TREE]
        tree.num_entries  # noqa: B018 - forces the TTree header to be read
    except Exception as err:
        raise DelphesInputError(
            f"{path}: the '{TREE}' tree cannot be read ({type(err).__name__}: {err}); the file is "
            "probably truncated. Re-copy the file or rerun Delphes for it."
        ) from err
    return tree


def _check_regular_file(path: Path) -> None:
    """A DelphesInputError, naming the fix, for a path that is missing, a directory, empty or not
    even stat-able (a parent directory without permission), instead of an OSError traceback."""
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise DelphesInputError(
            f"{path}: file not found. Check the path or glob in the sample's `files:` entry."
        ) from None
    except OSError as err:
        raise _unreadable(path, err) from err
    if stat.S_ISDIR(info.st_mode):
        raise DelphesInputError(
            f"{path}: is a directory, not a ROOT file. Pass the .root files in it instead "
            f"(e.g. {path / '*.root'})."
        )
    if info.st_size == 0:
        raise DelphesInputError(f"{path}: file is empty (0 bytes). Re-copy or regenerate it.")


def _first_bytes(path: Path) -> bytes:
    """The file's magic number (an unreadable file becomes a DelphesInputError)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(4)
    except OSError as err:
        raise _unreadable(path, err) from err


def _unreadable(path: Path, err: OSError) -> DelphesInputError:
    return DelphesInputError(
        f"{path}: cannot be read ({err.strerror or type(err).__name__}). Check that it is a regular file "
        "you have read permission for (ls -l it and its directory), or re-copy it."
    )


def available_fields(tree) -> dict[str, set[str]]:
    """Collection -> fields present, whichever of the two spellings the file uses."""
    found: dict[str, set[str]] = {}
    for key in tree.keys(full_paths=True):
        leaf = key.rsplit("/", 1)[-1]
        if "." in leaf:
            collection, field = leaf.split(".", 1)
            found.setdefault(collection, set()).add(field)
    return found


def resolve(tree, path: str | Path, collection: str, fields: Sequence[str]) -> dict[str, str]:
    """Field -> branch name in this file; a DelphesInputError naming what is missing."""
    keys = set(tree.keys(full_paths=True))
    resolved, missing = {}, []
    for field in fields:
        for candidate in (branch_name(collection, field), f"{collection}.{field}"):
            if candidate in keys:
                resolved[field] = candidate
                break
        else:
            missing.append(f"{collection}.{field}")
    if missing:
        raise DelphesInputError(
            f"{path}: missing branch(es) {', '.join(missing)} in the '{TREE}' tree. "
            "Add them to the Delphes card's TreeWriter (or drop the stage that needs them); "
            f"`python -m analysis check-input {path}` lists what the file has."
        )
    return resolved


def read(path: str | Path, spec: Mapping[str, Sequence[str]], entry_start: int | None = None,
         entry_stop: int | None = None) -> dict[str, ak.Array]:
    """Read `spec = {collection: [fields]}` into one awkward record array per collection."""
    tree = open_tree(path)
    names = {coll: resolve(tree, path, coll, fields) for coll, fields in spec.items()}
    wanted = [b for per in names.values() for b in per.values()]
    try:
        arrays = tree.arrays(wanted, entry_start=entry_start, entry_stop=entry_stop, how=dict)
    except Exception as err:
        raise DelphesInputError(
            f"{path}: reading {wanted} failed ({type(err).__name__}: {err}); the file is probably "
            "corrupt or truncated. Re-copy the file or rerun Delphes for it."
        ) from err
    return {
        coll: ak.zip({field: arrays[branch] for field, branch in per.items()})
        for coll, per in names.items()
    }


def file_keys(paths: Sequence[str | Path]) -> dict[str, str]:
    """Path -> a name unique within the sample: the path relative to the folder all the files
    share. MadGraph writes `Events/run_01/tag_1_delphes_events.root`, `Events/run_02/...` with the
    same file name and event numbers, so the bare name would merge the runs; a sample whose
    files sit in one folder keeps the bare names."""
    resolved = {str(p): Path(p).resolve() for p in paths}
    if not resolved:
        return {}
    common = Path(os.path.commonpath([p.parent for p in resolved.values()]))
    return {key: str(p.relative_to(common)) for key, p in resolved.items()}


def iterate(paths: Sequence[str | Path], spec: Mapping[str, Sequence[str]],
            step_size: int = 10_000) -> Iterator[tuple[Path, dict[str, ak.Array]]]:
    """Stream `spec` over many files in steps of `step_size` events (memory stays flat)."""
    for path in map(Path, paths):
        n = open_tree(path).num_entries
        for start in range(0, n, step_size):
            yield path, read(path, spec, start, min(start + step_size, n))
