"""Same config -> byte-identical files, in one process or in two; different chunk seeds ->
different events; a rerun sweeps what a killed or failed job left behind."""
from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
from pathlib import Path

import awkward as ak
import pytest
import yaml

from analysis import config as configlib
from analysis.core.provenance import meta_path, read_meta, sha256
from analysis.events.delphes import read
from analysis.stages.generate import run_generate

from .conftest import REPO


@pytest.fixture
def two_chunk_config(tmp_path):
    """The test config with a ttbar sample of two chunks of 300 events (two batches each)."""
    raw = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    raw["samples"]["ttbar"]["events"] = 600
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_same_seed_gives_identical_files_and_chunks_differ(tmp_path, two_chunk_config):
    cfg = configlib.load(two_chunk_config)
    first = tmp_path / "a" / "chunk0.root"
    again = tmp_path / "b" / "chunk0.root"
    other = tmp_path / "a" / "chunk1.root"
    for path, chunk in ((first, 0), (again, 0), (other, 1)):
        run_generate(cfg, {}, {"events": path}, {"sample": "ttbar", "chunk": chunk})
    assert sha256(first) == sha256(again)
    jets_first = read(first, {"Jet": ("PT",)})["Jet"].PT
    jets_other = read(other, {"Jet": ("PT",)})["Jet"].PT
    assert not ak.all(ak.num(jets_first) == ak.num(jets_other)) or not ak.all(jets_first == jets_other)
    meta = read_meta(first)
    assert meta["events"] == 300 and meta["cross_section_pb"] > 0 and meta["sum_of_weights"] == 300
    numbers = read(other, {"Event": ("Number",)})["Event"].Number
    assert ak.min(numbers) == 300, "event numbers continue across chunks"


def test_a_chunk_is_byte_identical_across_processes(tmp_path, two_chunk_config):
    """Two processes (two PIDs, so two temporary names) write the same bytes: nothing of the
    process enters the ROOT file."""
    outputs = [tmp_path / run / "chunk0.root" for run in ("first", "second")]
    for output in outputs:
        result = subprocess.run(
            [sys.executable, "-m", "analysis", "generate", "--config", str(two_chunk_config), "--sample", "ttbar",
             "--chunk", "0", "--output", str(output)],
            cwd=REPO, capture_output=True, text=True,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    assert sha256(outputs[0]) == sha256(outputs[1])
    assert sorted(p.name for p in outputs[0].parent.iterdir()) == ["chunk0.root", "chunk0.root.meta.json"]


def test_generate_sweeps_its_own_leftovers_and_nothing_else(tmp_path, two_chunk_config):
    """A SIGKILL leaves temporaries (the old `.chunk0.root.tmp-PID` files, today's folders, those
    of the sidecar) and a failed rerun an orphan sidecar; the next job of that chunk removes them
    and leaves alone what belongs to other jobs (chunk 1 may be running beside it)."""
    events = tmp_path / "events"
    events.mkdir()
    stale = [events / ".chunk0.root.tmp-4242", events / ".chunk0.root.meta.json.tmp-4242",
             events / ".chunk0.root.tmp-4243-x1y2"]
    stale[0].write_bytes(b"root half written")
    stale[1].write_text("{")
    stale[2].mkdir()
    (stale[2] / "chunk0.root").write_bytes(b"root half written")
    meta_path(events / "chunk0.root").write_text(json.dumps({"stage": "stale"}))
    others = {events / "chunk1.root": b"root", events / "chunk1.root.meta.json": b"{}",
              events / ".chunk1.root.tmp-77": b"root, being written"}
    for path, content in others.items():
        path.write_bytes(content)
    run_generate(configlib.load(two_chunk_config), {}, {"events": events / "chunk0.root"},
                 {"sample": "ttbar", "chunk": 0})
    assert sorted(p.name for p in events.iterdir()) == sorted(
        ["chunk0.root", "chunk0.root.meta.json", *(p.name for p in others)])
    assert read_meta(events / "chunk0.root")["stage"] == "generate"
    assert all(path.read_bytes() == content for path, content in others.items())


NOT_COMPARED = {
    "*.meta.json": "provenance sidecars: start and end times, host, per-epoch training seconds",
    "*/logs/*": "rule logs: progress, timings, library banners",
    "*/benchmarks/*": "snakemake's benchmark files of the heavy rules: wall and CPU seconds, memory",
}
"""Files under results/ that carry wall-clock times by design (fnmatch patterns of the path below
results/); every other file must be identical."""


@pytest.mark.slow
@pytest.mark.xdist_group("test_config_run")
def test_two_runs_from_scratch_give_identical_artifacts(test_config_run, tmp_path):
    """The whole test config (q/g study included) run twice from scratch, by two snakemake
    processes in two folders (the first run is the one the end-to-end test checks): every data
    artifact, figure and table has the same bytes."""
    from .test_workflow import snakemake

    result = snakemake(tmp_path, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    runs = [test_config_run, tmp_path]
    digests = [_artifact_digests(run / "results") for run in runs]
    assert len(digests[0]) > 100 and digests[0].keys() == digests[1].keys()
    assert not [name for name in digests[0] if ".tmp-" in name], "a temporary was left behind"
    differ = sorted(name for name in digests[0] if digests[0][name] != digests[1][name])
    assert not differ, f"artifacts that differ between two runs: {differ}"


def _artifact_digests(results: Path) -> dict[str, str]:
    """sha256 of every file under `results` but those NOT_COMPARED, by path below `results`."""
    relative = (p.relative_to(results).as_posix() for p in results.rglob("*") if p.is_file())
    return {name: sha256(results / name) for name in relative
            if not any(fnmatch.fnmatch(name, pattern) for pattern in NOT_COMPARED)}
