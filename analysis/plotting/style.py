"""Shared figure set-up: a non-interactive backend, the CMS style, simulation labels."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402

from analysis.core.provenance import atomic_output  # noqa: E402

plt.style.use(mplhep.style.CMS)


def label(ax) -> None:
    """The CMS-style 'Simulation' label: every figure here is made from simulated events."""
    mplhep.cms.label(data=False, ax=ax, loc=0, fontsize=14, rlabel="13 TeV")


def finish(ax, xlabel: str, ylabel: str, **legend) -> None:
    """Axis titles, the legend (when anything is labelled: a matching figure of SPANet-format
    datasets alone has no curve) and the simulation label."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**{"fontsize": 12, **legend})
    label(ax)


REPRODUCIBLE_METADATA = {"pdf": {"CreationDate": None}}
"""Per format, the metadata that keeps a figure's bytes the same from run to run: matplotlib
stamps PDFs with the wall clock unless told not to; its PNGs carry no time."""


def save(fig, paths: str | Path | Sequence[str | Path]) -> None:
    """Write the figure to each path (its suffix decides the format: png, pdf) atomically, then
    close it."""
    for path in [paths] if isinstance(paths, str | Path) else paths:
        path = Path(path)
        fmt = path.suffix.lstrip(".")
        with atomic_output(path) as tmp:
            fig.savefig(tmp, format=fmt, bbox_inches="tight", dpi=110, metadata=REPRODUCIBLE_METADATA.get(fmt))
    plt.close(fig)
