"""What every benchmark records besides its figures: the machine and where the JSON goes."""
from __future__ import annotations

import os
import platform
from pathlib import Path

from analysis.provenance import package_versions, write_json

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def machine() -> dict:
    return {"host": platform.node(), "cpus": os.cpu_count(), "processor": platform.processor(),
            "python": platform.python_version(), "packages": package_versions()}


def report(name: str, result: dict) -> Path:
    """Write benchmarks/results/<name>.json and print the headline figures."""
    path = RESULTS / f"{name}.json"
    write_json(path, result)
    for key, value in result.items():
        if isinstance(value, float | int) and not isinstance(value, bool):
            print(f"{key:40s} {value:12.3f}")
    return path
