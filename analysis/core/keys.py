"""Names of a sample's input files that stay unique within the sample.

Event numbers restart in every file, so the split hash and the assignment tables identify an
event by (file key, event number). The bare file name is not enough: MadGraph writes
`Events/run_01/tag_1_delphes_events.root`, `Events/run_02/tag_1_delphes_events.root`, ... with
the same name and the same event numbers.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


def file_keys(paths: Sequence[str | Path]) -> dict[str, str]:
    """Path (as given) -> its path relative to the folder all of `paths` share; a sample whose
    files sit in one folder (our generated chunks) keeps the bare names."""
    resolved = {str(p): Path(p).resolve() for p in paths}
    if not resolved:
        return {}
    common = Path(os.path.commonpath([p.parent for p in resolved.values()]))
    return {key: str(p.relative_to(common)) for key, p in resolved.items()}
