"""Configuration validation, per-chunk seeds and bookkeeping, provenance and atomic writes."""
from __future__ import annotations

import copy
import dataclasses
import json

import pytest
import yaml

from analysis import config as configlib
from analysis.core.provenance import atomic_output, meta_path, read_meta, sha256, sweep_leftovers, write_meta

from .conftest import REPO


@pytest.fixture
def raw():
    return yaml.safe_load((REPO / "config" / "test.yaml").read_text())


@pytest.mark.parametrize("name", ["config.yaml", "test.yaml", "paper.yaml"])
def test_shipped_configs_are_valid(name):
    cfg = configlib.load(REPO / "config" / name)
    assert cfg.generated()["ttbar"].process == "ttbar_allhad"
    if cfg.qg is not None:
        assert cfg.generated()[cfg.qg.mc].constituents and cfg.qg.mc not in cfg.samples


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda c: c.update(colour="red"), "'colour' was unexpected"),
        (lambda c: c["samples"]["ttbar"].update(evnts=5), "'evnts' was unexpected"),
        (lambda c: c["samples"]["ttbar"].update(events="many"), "'many' is not of type 'integer'"),
        (lambda c: c["samples"]["ttbar"].update(shower="herwig"), "allowed values: ['simple', 'vincia']"),
        (lambda c: c["samples"]["ttbar"].update(source="lhe"), "allowed values: ['generate', 'files', 'spanet_h5']"),
        (lambda c: c.update(detector_card="config/missing.yaml"), "missing.yaml not found"),
        (lambda c: c["samples"].update(user={"source": "files", "files": ["/no/such/*.root"],
                                             "cross_section_pb": 1.0, "generated_events": 10}),
         "no file matches '/no/such/*.root'"),
        (lambda c: c["samples"].update(user={"source": "files", "files": ["x.root"], "cross_section_pb": 1.0}),
         "give exactly one of 'generated_events' or 'sum_of_weights'"),
        (lambda c: c["samples"]["qcd"].update(pthat_bins=[[400, 200]]), "max <= min"),
        (lambda c: c["qg"]["samples"].update(qcd=c["samples"]["qcd"]), "key 'qg.samples': ['qcd'] are also under"),
        (lambda c: c["qg"].update(data="dijet"), "key 'qg.data': the calibrated sample must differ"),
        (lambda c: c["qg"].update(mc="ttbar"), "key 'qg.mc': 'ttbar' is not a sample under qg.samples"),
        (lambda c: c["qg"]["samples"]["dijet"].update(constituents=False), "the tagger needs the jet constituents"),
        (lambda c: c["qg"].update(pt_bins=[300, 200]), "key 'qg.pt_bins': edges must increase"),
        (lambda c: c["qg"]["taggers"].update(bdt={"architecture": "bdt"}),
         "allowed values: ['particle_transformer', 'shapes']"),
        (lambda c: c["qg"]["training"].update(max_epoch=3), "'max_epoch' was unexpected"),
    ],
)
def test_bad_config_names_the_key(raw, mutate, message):
    bad = copy.deepcopy(raw)
    mutate(bad)
    with pytest.raises(configlib.ConfigError) as err:
        configlib.from_dict(bad, where="test.yaml")
    assert message in str(err.value)


def test_unknown_key_lists_allowed_keys(raw):
    raw["samples"]["ttbar"]["evnts"] = 1
    with pytest.raises(configlib.ConfigError, match=r"key 'samples.ttbar'.*Allowed keys: \[.*'events'"):
        configlib.from_dict(raw)


def test_chunks_partition_events_and_bins(test_config):
    qcd = test_config.generated()["qcd"]
    assert qcd.n_chunks == 2
    assert [qcd.chunk_bin(i) for i in range(2)] == [(200.0, 400.0), (400.0, None)]
    sample = dataclasses.replace(test_config.generated()["ttbar"], name="x", events=10, chunks=3)
    spans = [sample.chunk_events(i) for i in range(3)]
    assert spans == [(4, 0), (3, 4), (3, 7)]


def test_chunk_seeds_are_distinct_and_stable(test_config):
    seeds = {test_config.chunk_seeds(s, c) for s in ("ttbar", "qcd") for c in range(50)}
    assert len(seeds) == 100
    assert test_config.chunk_seeds("ttbar", 3) == configlib.load(REPO / "config" / "test.yaml").chunk_seeds("ttbar", 3)


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("previous result")
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half written")
        raise RuntimeError("interrupted")
    assert target.read_text() == "previous result"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_output_writes_under_the_final_name(tmp_path):
    """Formats that record their file name (ROOT, torch) see the final name, never a PID."""
    target = tmp_path / "chunk0.root"
    with atomic_output(target) as tmp:
        assert tmp.name == target.name and tmp.parent.parent == tmp_path and tmp.parent.name.startswith(".")
        tmp.write_text("complete")
    assert target.read_text() == "complete"
    assert list(tmp_path.iterdir()) == [target]


def test_sweep_removes_stale_temporaries_and_orphan_sidecars_only(tmp_path):
    output, finished = tmp_path / "a[1].parquet", tmp_path / "c.parquet"
    stale = [tmp_path / ".a[1].parquet.tmp-17", tmp_path / ".a[1].parquet.tmp-18-abc",
             tmp_path / ".a[1].parquet.meta.json.tmp-17", meta_path(output)]
    for path in stale:
        path.write_text("stale")
    stale[1].unlink()
    stale[1].mkdir()
    (stale[1] / output.name).write_text("half written")
    kept = [finished, meta_path(finished), tmp_path / "b.parquet.meta.json", tmp_path / ".b.parquet.tmp-17",
            tmp_path / ".a.parquet.tmp-17"]
    for path in kept:
        path.write_text("complete, or someone else's")
    assert sorted(sweep_leftovers([output, finished])) == sorted(stale)
    assert sorted(tmp_path.iterdir()) == sorted(kept)


def test_meta_records_provenance(tmp_path):
    artifact = tmp_path / "a.txt"
    artifact.write_text("x")
    source = tmp_path / "in.txt"
    source.write_text("y")
    write_meta(artifact, tag="t", stage="s", config={"k": 1}, inputs=[source], started="then")
    meta = read_meta(artifact)
    assert meta_path(artifact).name == "a.txt.meta.json"
    assert meta["inputs"] == {str(source): sha256(source)} and meta["sha256"] == sha256(artifact)
    assert {"tag", "stage", "config", "config_hash", "git_commit", "packages", "host", "started", "finished"} <= set(meta)
    assert meta["packages"]["uproot"] and json.dumps(meta)
