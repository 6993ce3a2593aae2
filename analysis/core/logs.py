"""Job logs for snakemake scripts."""
from __future__ import annotations

import os
import sys
from pathlib import Path


def redirect_to_log(path: str | Path) -> None:
    """Send this process's stdout and stderr, including what C++ libraries (Pythia, FastJet)
    print directly to the file descriptors, to the rule's log file."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "w", buffering=1)  # noqa: SIM115 - lives as long as the job
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(handle.fileno(), 1)
    os.dup2(handle.fileno(), 2)
    sys.stdout = sys.stderr = handle
