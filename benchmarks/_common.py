"""What every benchmark records besides its figures: the machine and where the JSON goes."""
from __future__ import annotations

import os
import platform
import resource
from pathlib import Path

from analysis.core.provenance import package_versions, write_json

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def peak_rss_mb() -> float:
    """Peak resident memory of this process since it started, in MB.

    From /proc (VmHWM) where there is one: a child started with the `spawn` method inherits the
    parent's size at fork in getrusage's ru_maxrss (Linux keeps it across exec), which would
    hide the child's own peak under the parent's."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
