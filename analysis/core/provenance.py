"""Artifact provenance and safe writes, used by every stage.

Every artifact X gets X.meta.json: tag, stage, the config subset it depends on and its hash,
input files with sha256, git commit, package versions, host, start/end time. Files are written
in a private temporary folder beside their final place and renamed when complete, so an
interrupted job never leaves a file that looks finished. Wall-clock numbers belong in the sidecars
only, so that the artifacts of two runs of the same config are byte-identical.
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import glob
import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

PACKAGES = ("numpy", "awkward", "uproot", "coffea", "fastjet", "pythia8mc", "torch",
            "snakemake", "hist", "mplhep", "h5py", "iminuit", "scipy", "pyarrow", "onnx", "onnxruntime")
META_SUFFIX = ".meta.json"


def meta_path(artifact: str | Path) -> Path:
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + META_SUFFIX)


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a path with `path`'s own name inside a new hidden folder beside it; move it to `path`
    only if the block succeeds.

    Writing under the final name keeps the bytes independent of the process: formats that record
    the name they were opened with (ROOT's TFile header, torch's zip archive) would otherwise
    store the temporary one, in ROOT's case with the PID. The rename stays within one file
    system, so it is atomic. The folder is removed either way; a SIGKILL leaves it behind, for
    `sweep_leftovers` to remove on the next run. A second writer of `path` meanwhile fails at
    once (ConcurrentWriteError) instead of racing the first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _write_lock(path):
        folder = Path(tempfile.mkdtemp(prefix=f"{_tmp_prefix(path)}{os.getpid()}-", dir=path.parent))
        tmp = folder / path.name
        try:
            yield tmp
            os.replace(tmp, path)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


class ConcurrentWriteError(RuntimeError):
    """Two processes writing one artifact at once; the message names it and the fix."""


def _concurrent(path: Path) -> ConcurrentWriteError:
    return ConcurrentWriteError(
        f"{path}: another process is writing it right now, so this job stops rather than race it. Two snakemake "
        "instances are running on this results folder (snakemake 9.27 drops a running instance's lock when any "
        "other instance exits: README, 'One snakemake instance per results folder'); let one finish, then rerun."
    )


def _lock_file(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def _write_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` while it is written; a second writer fails at once. The
    lock is the kernel's (flock), so a killed writer releases it; the empty lock file is removed
    when the write ends."""
    lock = _lock_file(path)
    handle = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(handle)
        raise _concurrent(path) from None
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(handle)  # releases the lock


def _being_written(path: Path) -> bool:
    """Whether a live process holds `path`'s write lock (a stale lock file is removed)."""
    lock = _lock_file(path)
    try:
        handle = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        lock.unlink(missing_ok=True)
        return False
    finally:
        os.close(handle)


def sweep_leftovers(outputs: Iterable[str | Path]) -> list[Path]:
    """Remove what earlier jobs left beside `outputs` and return it: the temporary files and
    folders of killed writes (`.NAME.tmp-*`, which no rename ever claims) and `.meta.json` sidecars
    whose artifact is missing (a failed rerun, after which snakemake deleted the artifact but not
    the sidecar it does not know of). Stages call this first, for every file they write; an
    output another live process is writing raises ConcurrentWriteError instead."""
    removed = []
    for output in map(Path, outputs):
        if _being_written(output) or _being_written(meta_path(output)):
            raise _concurrent(output)  # its temporaries are a live write, not leftovers
        sidecar = meta_path(output)
        for written in (output, sidecar):
            for leftover in sorted(output.parent.glob(glob.escape(_tmp_prefix(written)) + "*")):
                _remove(leftover)
                removed.append(leftover)
        if sidecar.is_file() and not output.exists():
            sidecar.unlink()
            removed.append(sidecar)
    return removed


def _tmp_prefix(path: Path) -> str:
    """The start of every temporary name `atomic_output` uses for `path` (hidden, never matched
    by a snakemake output pattern)."""
    return f".{path.name}.tmp-"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def write_json(path: str | Path, payload: Any) -> None:
    write_text(path, json.dumps(payload, indent=2, sort_keys=True, default=_jsonable) + "\n")


def write_text(path: str | Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text)


def sha256(path: str | Path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def config_hash(subset: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(subset, sort_keys=True, default=_jsonable).encode()).hexdigest()


def git_commit() -> str:
    """The code version; '-dirty' marks uncommitted changes, 'unknown' outside a git checkout."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def write_meta(
    artifact: str | Path,
    *,
    tag: str,
    stage: str,
    config: Mapping[str, Any],
    inputs: Sequence[str | Path] = (),
    started: str,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write `artifact`.meta.json (atomically) and return its path."""
    payload = {
        "artifact": str(artifact),
        "sha256": sha256(artifact) if Path(artifact).is_file() else None,
        "tag": tag,
        "stage": stage,
        "config": config,
        "config_hash": config_hash(config),
        "inputs": {str(p): sha256(p) for p in inputs},
        "git_commit": git_commit(),
        "packages": package_versions(),
        "host": socket.gethostname(),
        "started": started,
        "finished": now(),
    }
    if extra:
        payload.update(extra)
    path = meta_path(artifact)
    write_json(path, payload)
    return path


@dataclass
class StageRun:
    """One stage job's provenance while it runs (see `stage_run`): what every sidecar of its
    outputs shares, and which sidecars it has written."""

    tag: str
    stage: str
    config: Mapping[str, Any]
    inputs: Sequence[str | Path]
    started: str
    extra: Mapping[str, Any] | None = None
    """Written into every sidecar `stage_run` writes at the end (set it once the block knows it)."""
    recorded: set[Path] = field(default_factory=set)

    def record(self, artifact: str | Path, *, inputs: Sequence[str | Path] | None = None,
               extra: Mapping[str, Any] | None = None) -> Path:
        """`artifact`.meta.json now, with its own `inputs` or `extra` where they differ from the
        stage's (one sample's assignment file, say)."""
        self.recorded.add(Path(artifact))
        return write_meta(artifact, tag=self.tag, stage=self.stage, config=self.config,
                          inputs=self.inputs if inputs is None else inputs, started=self.started,
                          extra=self.extra if extra is None else extra)


@contextlib.contextmanager
def stage_run(tag: str, stage: str, config: Mapping[str, Any], outputs: Iterable[str | Path],
              inputs: Sequence[str | Path] = ()) -> Iterator[StageRun]:
    """What every stage does around its work, in one place: remove what earlier jobs left beside
    `outputs` (`sweep_leftovers`), note the start time, and, when the block succeeds, write the
    sidecar of every output it did not `record` itself (config subset, `inputs`, `run.extra`).
    A failing block writes no sidecar, so snakemake's removal of its outputs leaves nothing."""
    outputs = list(outputs)
    sweep_leftovers(outputs)
    run = StageRun(tag, stage, config, inputs, now())
    yield run
    for artifact in outputs:
        if Path(artifact) not in run.recorded:
            run.record(artifact)


def read_meta(artifact: str | Path) -> dict:
    return json.loads(meta_path(artifact).read_text())


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")
