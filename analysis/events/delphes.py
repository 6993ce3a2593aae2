"""Delphes-layout ROOT I/O: one writer for the embedded generator, one reader for every stage.

The reader accepts both spellings a Delphes tree shows through uproot: `Jet/Jet.PT` (the full
path of a split TClonesArray, as Delphes writes it and as coffea's DelphesSchema expects) and
`Jet.PT` (the leaf name ROOT prints). The writer uses the full-path spelling, so coffea reads
our files as it reads real Delphes output.
"""
from __future__ import annotations

import contextlib
import datetime
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
    """The `Delphes` tree of `path`, or a DelphesInputError that says what is wrong and how to fix it.

    The TFile header is checked against the file on disk before anything else is read: a
    truncated copy and a file Delphes never closed otherwise pass for good files until a basket
    beyond the cut is read, or are reported as having no tree at all."""
    path = Path(path)
    size = _check_regular_file(path)
    magic = _first_bytes(path)
    if magic != b"root":
        raise DelphesInputError(
            f"{path}: not a ROOT file (starts with {magic!r}, not b'root'). "
            "Point the sample to the Delphes output (.root) files."
        )
    try:
        file = uproot.reading.ReadOnlyFile(str(path), array_cache=None)  # steps are read once: no cache
    except Exception as err:
        raise _corrupt(path, err) from err
    _check_complete(path, file.fEND, size)
    try:
        directory = file.root_directory
        keys = directory.keys(cycle=False)
    except Exception as err:
        raise _corrupt(path, err) from err
    if directory.fSeekKeys == 0:
        raise DelphesInputError(
            f"{path}: was not closed: its header has no key list (ROOT writes it when the file is closed), "
            f"though the file holds {size} bytes. Delphes (or the copy) did not finish; rerun it."
        )
    if TREE not in keys:
        raise DelphesInputError(
            f"{path}: no '{TREE}' tree (found: {sorted(keys) or 'nothing'}). "
            "This workflow reads DelphesHepMC/DelphesPythia8 output, whose tree is named 'Delphes'."
        )
    try:
        tree = directory[TREE]
        tree.num_entries  # noqa: B018 - forces the TTree header to be read
    except Exception as err:
        raise DelphesInputError(
            f"{path}: the '{TREE}' tree cannot be read ({_cause(err)}); the file is "
            "probably truncated. Re-copy the file or rerun Delphes for it."
        ) from err
    return tree


def _check_complete(path: Path, end: int, size: int) -> None:
    """ROOT's own test (TFile::Init): the header's fEND, where the last record ends, beyond the
    size on disk means the file was cut short, by a failed copy or a full disk."""
    if end > size:
        raise DelphesInputError(
            f"{path}: truncated: {size} of {end} bytes on disk ({100 * size / end:.0f} %). "
            "Re-copy it or rerun Delphes for it."
        )


def _corrupt(path: Path, err: Exception) -> DelphesInputError:
    return DelphesInputError(
        f"{path}: corrupt or truncated ROOT file ({_cause(err)}). Re-copy the file or rerun Delphes for it."
    )


def _cause(err: Exception) -> str:
    """The exception on one line (uproot's messages span several), for one-line reports; the
    module named for non-builtin types (zlib's is just `error`)."""
    kind = type(err)
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
    return f"{name}: {' '.join(str(err).split())}"


def _check_regular_file(path: Path) -> int:
    """The size of `path` on disk; a DelphesInputError, naming the fix, for a path that is
    missing, a directory, empty or not even stat-able (a parent directory without permission),
    instead of an OSError traceback."""
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
    return info.st_size


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
    return read_tree(open_tree(path), path, spec, entry_start, entry_stop)


def read_tree(tree, path: str | Path, spec: Mapping[str, Sequence[str]], entry_start: int | None = None,
              entry_stop: int | None = None) -> dict[str, ak.Array]:
    """`read` from a tree already opened (by open_tree, from `path`): a Delphes tree of a thousand
    branches takes a second or more to open, so steps over one file share one."""
    names = {coll: resolve(tree, path, coll, fields) for coll, fields in spec.items()}
    wanted = [b for per in names.values() for b in per.values()]
    try:
        arrays = tree.arrays(wanted, entry_start=entry_start, entry_stop=entry_stop, how=dict)
    except Exception as err:
        raise _unreadable_entries(tree, path, wanted, entry_start, entry_stop, err) from err
    return {
        coll: ak.zip({field: arrays[branch] for field, branch in per.items()})
        for coll, per in names.items()
    }


def _unreadable_entries(tree, path: str | Path, branches: Sequence[str], entry_start: int | None,
                        entry_stop: int | None, err: Exception) -> DelphesInputError:
    """The error of a failed read, naming the branch and the entries of the first basket that
    does not decompress or deserialise, so that the user knows the file, not the code, is at
    fault; the baskets are tried one by one only once the read has failed."""
    start = entry_start or 0
    stop = tree.num_entries if entry_stop is None else entry_stop
    for name in branches:
        branch = tree[name]
        for basket in range(branch.num_baskets):
            first, last = (int(e) for e in branch.basket_entry_start_stop(basket))
            if last <= start or first >= stop:
                continue
            try:
                branch.array(entry_start=first, entry_stop=last)
            except Exception as basket_err:
                return DelphesInputError(
                    f"{path}: corrupt basket in branch {name} at entries {first}-{last - 1} ({_cause(basket_err)}). "
                    "Re-copy the file, or rerun Delphes for it if the original is damaged too."
                )
    return DelphesInputError(
        f"{path}: reading {list(branches)} at entries {start}-{stop - 1} failed ({_cause(err)}); the file is "
        "probably corrupt or truncated. Re-copy the file or rerun Delphes for it."
    )


def iterate(paths: Sequence[str | Path], spec: Mapping[str, Sequence[str]],
            step_size: int = 10_000) -> Iterator[tuple[Path, dict[str, ak.Array]]]:
    """Stream `spec` over many files in steps of `step_size` events (memory stays flat)."""
    for path in map(Path, paths):
        for arrays in read_steps(open_tree(path), path, spec, step_size):
            yield path, arrays


def read_steps(tree, path: str | Path, spec: Mapping[str, Sequence[str]],
               step_size: int) -> Iterator[dict[str, ak.Array]]:
    """`spec` over every entry of an opened tree, `step_size` events at a time."""
    n = tree.num_entries
    for start in range(0, n, step_size):
        yield read_tree(tree, path, spec, start, min(start + step_size, n))
