"""Speed of the baselines, written to benchmarks/results/baselines.json.

    python -m benchmarks.baselines [--events 20000]

Figures (issue: chi^2 with 7 jets and all 630 assignments >= 100k events/s on one core):
  chi2_{6,7}_jets_events_per_s   best_assignment on events of 7 real jets, one thread
The KLFitter-style fit and its per-event Minuit reference are not built yet.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from analysis.baselines.chi2 import Chi2Settings, best_assignment
from analysis.provenance import now
from benchmarks._common import machine, report


def rate(n_events: int, n_jets: int, chunk: int = 2000) -> float:
    rng = np.random.default_rng(0)
    shape = (n_events, 7)
    pt, eta, phi, mass = (rng.uniform(30, 200, shape), rng.uniform(-2.4, 2.4, shape), rng.uniform(-3, 3, shape),
                          rng.uniform(5, 20, shape))
    btag = (rng.uniform(size=shape) < 0.3).astype(int)
    n_real = np.full(n_events, 7)
    settings = Chi2Settings(sigma_top=15.0, sigma_w=10.0, n_jets=n_jets, btag_aware=True)
    best_assignment(pt[:chunk], eta[:chunk], phi[:chunk], mass[:chunk], btag[:chunk], n_real[:chunk], settings)
    start = time.perf_counter()
    for s in range(0, n_events, chunk):
        part = slice(s, s + chunk)
        best_assignment(pt[part], eta[part], phi[part], mass[part], btag[part], n_real[part], settings)
    return n_events / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000)
    args = parser.parse_args()
    started = now()
    result = {"benchmark": "baselines", "inputs": {"events": args.events, "real_jets": 7, "btag_aware": True},
              "machine": machine(), "started": started}
    for n_jets in (6, 7):
        result[f"chi2_{n_jets}_jets_events_per_s"] = rate(args.events, n_jets)
    result["finished"] = now()
    report("baselines", result)


if __name__ == "__main__":
    main()
