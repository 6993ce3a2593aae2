"""Pythia 8 set-up for the embedded samples and batched generation.

Only this module knows Pythia's setting strings: a sample's config (process, shower, tune,
pTHat range, bias) is translated here, so every other stage sees Delphes-layout events.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import awkward as ak

from analysis.core.logs import quiet_stdout

if TYPE_CHECKING:
    from analysis.config import GeneratedSample

SHOWER_MODELS = {"simple": 1, "vincia": 2}
"""`PartonShowers:model` codes available in pythia8mc 8.317 (Dire was removed from Pythia 8.3)."""

PROCESS_SETTINGS = {
    # both W -> q q' (d, u, s, c, b): the all-hadronic channel; tops always decay to b W.
    "ttbar_allhad": [
        "Top:gg2ttbar = on",
        "Top:qqbar2ttbar = on",
        "6:onMode = off",
        "6:onIfAll = 5 24",
        "24:onMode = off",
        "24:onIfAny = 1 2 3 4 5",
    ],
    # t tbar H with H -> b bbar, both W -> q q' (the SPA-NET talk's second benchmark): gg and qqbar.
    "tth_allhad": [
        "HiggsSM:gg2Httbar = on",
        "HiggsSM:qqbar2Httbar = on",
        "25:m0 = 125.0",
        "25:onMode = off",
        "25:onIfMatch = 5 -5",
        "6:onMode = off",
        "6:onIfAll = 5 24",
        "24:onMode = off",
        "24:onIfAny = 1 2 3 4 5",
    ],
    "qcd": ["HardQCD:all = on"],
}

MB_TO_PB = 1e9
MAX_PYTHIA_SEED = 900_000_000


@dataclass(frozen=True)
class GeneratorSettings:
    """Everything that defines one chunk's Pythia run."""

    process: str
    seed: int
    shower: str = "simple"
    tune: int = 14
    sqrt_s: float = 13000.0
    top_mass: float = 172.5
    pthat_min: float | None = None
    pthat_max: float | None = None
    pthat_bias_power: float = 0.0
    pthat_bias_reference: float = 100.0
    extra: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def for_chunk(cls, sample: GeneratedSample, chunk: int, seed: int) -> GeneratorSettings:
        """The run of chunk `chunk` of a config's generated sample, `seed` being the chunk's
        generator seed (analysis.config.seeds), taken into Pythia's seed range."""
        low, high = sample.chunk_bin(chunk)
        return cls(
            process=sample.process,
            seed=seed % MAX_PYTHIA_SEED,
            shower=sample.shower,
            tune=sample.tune,
            pthat_min=low,
            pthat_max=high,
            pthat_bias_power=sample.pthat_bias_power,
            pthat_bias_reference=sample.pthat_bias_reference,
            extra=sample.pythia_settings,
        )

    def strings(self) -> list[str]:
        """The Pythia setting strings, in the order they are read."""
        if self.process not in PROCESS_SETTINGS:
            raise ValueError(f"unknown process {self.process!r}; allowed: {sorted(PROCESS_SETTINGS)}")
        if self.shower not in SHOWER_MODELS:
            raise ValueError(f"unknown shower {self.shower!r}; allowed: {sorted(SHOWER_MODELS)}")
        out = [
            f"Beams:eCM = {self.sqrt_s}",
            f"Tune:pp = {self.tune}",
            f"PartonShowers:model = {SHOWER_MODELS[self.shower]}",
            f"6:m0 = {self.top_mass}",
            *PROCESS_SETTINGS[self.process],
            "Random:setSeed = on",
            f"Random:seed = {self.seed % MAX_PYTHIA_SEED}",
            # Bookkeeping only: the event-record consistency check costs ~10 % and changes no event.
            "Check:event = off",
            "Next:numberCount = 0",
            "Next:numberShowEvent = 0",
            "Next:numberShowProcess = 0",
            "Next:numberShowInfo = 0",
            "Print:quiet = on",
        ]
        if self.pthat_min is not None:
            out.append(f"PhaseSpace:pTHatMin = {self.pthat_min}")
        if self.pthat_max is not None:
            out.append(f"PhaseSpace:pTHatMax = {self.pthat_max}")
        if self.pthat_bias_power:
            # Events are sampled ~ (pTHat/ref)^power more often at high pTHat and carry the inverse
            # weight, so weighted sums still give the right cross-sections.
            out += [
                "PhaseSpace:bias2Selection = on",
                f"PhaseSpace:bias2SelectionPow = {self.pthat_bias_power}",
                f"PhaseSpace:bias2SelectionRef = {self.pthat_bias_reference}",
            ]
        return out + list(self.extra)


class PythiaRun:
    """A configured Pythia instance that yields awkward batches of full event records."""

    def __init__(self, settings: GeneratorSettings):
        import pythia8mc

        self.settings = settings
        with quiet_stdout():
            self.pythia = pythia8mc.Pythia("", False)
            for line in settings.strings():
                if not self.pythia.readString(line):
                    raise ValueError(f"Pythia rejected the setting {line!r}")
            if not self.pythia.init():
                raise RuntimeError(f"Pythia failed to initialise with {settings.strings()}")

    def batches(self, n_events: int, batch_size: int) -> Iterator[ak.Array]:
        """Yield batches of `batch_size` events (the last one shorter) until `n_events`."""
        done = 0
        while done < n_events:
            n = min(batch_size, n_events - done)
            batch = self.pythia.nextBatch(n)
            if len(batch) != n:
                raise RuntimeError(f"Pythia returned {len(batch)} of {n} requested events")
            done += n
            yield batch

    @property
    def cross_section_pb(self) -> tuple[float, float]:
        """Pythia's running estimate of the generated cross-section and its error, in pb."""
        info = self.pythia.infoPython()
        return info.sigmaGen() * MB_TO_PB, info.sigmaErr() * MB_TO_PB

    @property
    def sum_of_weights(self) -> float:
        return float(self.pythia.infoPython().weightSum())

    def charge(self, pdg_id: int) -> float:
        return float(self.pythia.particleData.charge(int(pdg_id)))
