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
def test_config() -> configlib.Config:
    return configlib.load(REPO / "config" / "test.yaml")


@pytest.fixture(scope="session")
def reco(test_config) -> Reconstruction:
    return Reconstruction.from_config(test_config.detector)


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
