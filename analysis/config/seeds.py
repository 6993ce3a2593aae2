"""Per-chunk seeds: every random stream of a generated chunk derives from the master seed, the
sample name and the chunk index only, so adding a sample or a chunk changes no other chunk."""
from __future__ import annotations

import hashlib

import numpy as np


def chunk_seeds(master_seed: int, sample: str, chunk: int) -> tuple[int, int]:
    """(generator seed, detector-response seed) of one chunk: two independent 64-bit streams.
    The generator takes its seed into its own range (analysis.events.pythia.GeneratorSettings)."""
    name_key = int.from_bytes(hashlib.sha256(sample.encode()).digest()[:8], "little")
    state = np.random.SeedSequence([master_seed, name_key, chunk]).generate_state(2, dtype=np.uint64)
    return int(state[0]), int(state[1])
