from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from analysis import config as configlib
from analysis.events.generate import Reconstruction, generate_chunk
from analysis.events.pythia import GeneratorSettings

REPO = Path(__file__).resolve().parent.parent
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


@pytest.fixture(autouse=True)
def _fixed_numpy_seed():
    np.random.seed(0)


@pytest.fixture(scope="session")
def test_config_run(tmp_path_factory) -> Path:
    """The folder of one from-scratch snakemake run of config/test.yaml (--cores 2), made once per
    session and only read by its users (the end-to-end checks and the two-run comparison), which
    saves a run of several minutes; they share an xdist group, so one worker makes it."""
    from .test_workflow import snakemake

    workdir = tmp_path_factory.mktemp("test_config_run")
    result = snakemake(workdir, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


@pytest.fixture(scope="session")
def test_config() -> configlib.Config:
    return configlib.load(REPO / "config" / "test.yaml")


@pytest.fixture(scope="session")
def reco(test_config) -> Reconstruction:
    return Reconstruction.from_config(test_config.detector)


@pytest.fixture
def drawn(monkeypatch):
    """Figures drawn by analysis.plotting.paper, kept open instead of saved: name -> Figure."""
    from analysis.plotting import paper

    figures = {}
    monkeypatch.setattr(paper, "save", lambda fig, path: figures.setdefault(str(path), fig))
    return paper, figures


@pytest.fixture(scope="session")
def card() -> dict:
    return yaml.safe_load((REPO / "config" / "detector_cms.yaml").read_text())


@pytest.fixture(scope="session")
def ttbar_file(tmp_path_factory, reco) -> Path:
    """1000 all-hadronic ttbar events in our Delphes layout."""
    path = tmp_path_factory.mktemp("ttbar") / "ttbar.root"
    generate_chunk(GeneratorSettings(process="ttbar_allhad", seed=4242), reco, n_events=1000,
                   first_event_number=0, output=path, detector_seed=7, progress=False)
    return path


@pytest.fixture(scope="session")
def qcd_file(tmp_path_factory, reco) -> Path:
    """QCD dijets with constituents written."""
    path = tmp_path_factory.mktemp("qcd") / "qcd.root"
    generate_chunk(GeneratorSettings(process="qcd", seed=99, pthat_min=300.0), reco, n_events=200,
                   first_event_number=0, output=path, detector_seed=3, constituents=True, progress=False)
    return path


def files_config(tmp_path: Path, samples: dict[str, Path], **sections) -> configlib.Config:
    """The test config with every sample read from `files` (cross-section 1 pb per sample, the
    file holding the whole generated sample) and no generator-study alternatives (the stages
    expect the files of every sample of their config), plus config `sections` overriding the
    defaults."""
    from analysis.events.delphes import open_tree

    raw = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    raw["tag"] = "unit"
    raw["samples"] = {name: {"source": "files", "files": [str(path)], "cross_section_pb": 1.0,
                             "generated_events": open_tree(path).num_entries} for name, path in samples.items()}
    raw["generators"] = {}
    raw["datasets"]["training_sample"] = next(iter(samples))
    raw.update(sections)
    return configlib.from_dict(raw, where=str(tmp_path / "config.yaml"))


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory, reco, qcd_file):
    """3000 all-hadronic ttbar events (test-config scale) and the QCD file through skim and match."""
    from types import SimpleNamespace

    from analysis.stages.match import run_match
    from analysis.stages.skim import run_skim

    base = tmp_path_factory.mktemp("pipeline")
    ttbar = base / "ttbar.root"
    generate_chunk(GeneratorSettings(process="ttbar_allhad", seed=2024), reco, n_events=3000,
                   first_event_number=0, output=ttbar, detector_seed=11, progress=False)
    cfg = files_config(base, {"ttbar": ttbar, "qcd": qcd_file})
    out = SimpleNamespace(cfg=cfg, dir=base, files={"ttbar": ttbar, "qcd": qcd_file}, skim={}, matched={},
                          tables={}, cutflow={})
    for name, path in out.files.items():
        out.skim[name], out.cutflow[name] = base / f"{name}.parquet", base / f"{name}.cutflow.json"
        out.matched[name], out.tables[name] = base / f"{name}.matched.parquet", base / f"{name}.matching.json"
        run_skim(cfg, {"files": [path]}, {"skim": out.skim[name], "cutflow": out.cutflow[name]}, {"sample": name})
        run_match(cfg, {"skim": out.skim[name]}, {"matched": out.matched[name], "tables": out.tables[name]},
                  {"sample": name})
    return out


def split_all(cfg, matched: dict, directory: Path) -> tuple[dict[str, Path], dict]:
    """The two rules of split.smk on `matched` (sample -> matched parquet file): `run_split` on the
    training sample's file, `run_test_set` on every sample's. Returns the train, val, test_nominal
    and test files and `run_split`'s summary with `run_test_set`'s under "test_set"."""
    from analysis.stages.split import run_split, run_test_set

    directory.mkdir(parents=True, exist_ok=True)
    outputs = {name: directory / f"{name}.h5" for name in ("train", "val", "test_nominal", "test")}
    training = cfg.datasets.training_sample
    summary = run_split(cfg, {"matched": [matched[training]] if training in matched else []},
                        {**outputs, "event_info": directory / "event_info.yaml"}, {})
    summary["test_set"] = run_test_set(cfg, {"matched": [matched[name] for name in cfg.matched_samples()]},
                                       outputs, {})
    return outputs, summary


@pytest.fixture(scope="session")
def sets(pipeline, tmp_path_factory):
    """The pipeline's matched events split into train/val/test datasets."""
    return split_all(pipeline.cfg, pipeline.matched, tmp_path_factory.mktemp("sets"))[0]
