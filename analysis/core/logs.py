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


class quiet_stdout:
    """Silence file descriptor 1 for a while: Pythia's C++ banner goes there whatever
    Print:quiet says; keep job logs readable."""

    def __enter__(self):
        self._saved = os.dup(1)
        self._null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(self._null, 1)

    def __exit__(self, *exc):
        os.dup2(self._saved, 1)
        os.close(self._saved)
        os.close(self._null)
        return False
