"""What every stage entry point shares: the type of its rule's files."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Files = Mapping[str, Any]
"""A rule's `input`, `output` or `wildcards`: snakemake's named lists in a job, plain dicts in the
tests and the CLI. Stages read them by name only (`input["test"]`), which both support; an entry
is one path, or a list of paths where the rule lists several under one name."""
