"""Speed of the baselines, written to benchmarks/results/baselines.json.

    python -m benchmarks.baselines [--events 20000] [--fit-events 400] [--minuit-events 20]

Figures, all on one thread (issue goals: chi^2 with 7 jets >= 100k events/s; the batched
kinematic-likelihood fit >= 100x the per-event Minuit loop on the same events):
  chi2_{6,7}_jets_events_per_s        best_assignment on events of 7 jets, 30 % b-tagged
  klfitter_{6,7}_jets_events_per_s    batched fit of every allowed row of `fit-events` events of 7
                                      jets, two of them b-tagged (6 rows per event for 6 jets, 30 for 7)
  klfitter_{6,7}_jets_minuit_s_per_event   the iminuit reference on the first `minuit-events` of them
  klfitter_{6,7}_jets_speedup         per-event time, Minuit loop / batched
  klfitter_{6,7}_jets_same_best       fraction of those events where both pick the same assignment
The transfer functions are a fixed, realistic set (b and light, barrel and endcap alike).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from analysis.core.provenance import now
from analysis.methods import klfitter
from analysis.methods.chi2 import Chi2Settings, best_assignment
from analysis.methods.permutations import btag_allowed, table
from analysis.methods.transfer_functions import ResponseModel
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


RESPONSE = ResponseModel(m0=-0.02, m1=1.4, s0=0.056, s1=1.33, s2=1.0, alpha=2.8, n=19.0)


def jets_of(n_events: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(1)
    shape = (n_events, 7)
    pt, eta, phi, mass = (rng.uniform(30, 200, shape), rng.uniform(-2.4, 2.4, shape), rng.uniform(-3, 3, shape),
                          rng.uniform(5, 20, shape))
    btag = np.zeros(shape, dtype=int)
    for row in btag:
        row[rng.choice(7, 2, replace=False)] = 1
    return pt, eta, phi, mass, btag


def klfitter_speed(n_events: int, n_minuit: int, n_jets: int) -> dict:
    """Batched fit of every allowed row of every event, then the Minuit loop on the first events."""
    likelihood = klfitter.Likelihood([RESPONSE] * 4, klfitter.LikelihoodSettings())
    pt, eta, phi, mass, btag = jets_of(n_events)
    start = time.perf_counter()
    slots, _, _ = klfitter.best_assignment(likelihood, pt, eta, phi, mass, btag, np.full(n_events, 7), n_jets, True)
    batched = (time.perf_counter() - start) / n_events
    rows = table(n_jets)
    start = time.perf_counter()
    same = 0
    for e in range(n_minuit):
        allowed = rows[btag_allowed(rows, btag[e : e + 1, :n_jets] > 0)[0]]
        jets, cats = klfitter.prepare(*(np.repeat(a[e : e + 1], len(allowed), 0) for a in (pt, eta, phi, mass)),
                                      allowed)
        values = [klfitter.fit_one(likelihood, jets[i], cats[i])[0] for i in range(len(allowed))]
        same += bool((allowed[int(np.argmin(values))] == slots[e]).all())
    minuit = (time.perf_counter() - start) / n_minuit
    return {f"klfitter_{n_jets}_jets_events_per_s": 1 / batched, f"klfitter_{n_jets}_jets_minuit_s_per_event": minuit,
            f"klfitter_{n_jets}_jets_speedup": minuit / batched, f"klfitter_{n_jets}_jets_same_best": same / n_minuit}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--fit-events", type=int, default=400)
    parser.add_argument("--minuit-events", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = now()
    result = {"benchmark": "baselines", "inputs": {"events": args.events, "fit_events": args.fit_events,
                                                   "minuit_events": args.minuit_events, "real_jets": 7,
                                                   "btag_aware": True},
              "machine": machine(), "started": started}
    for n_jets in (6, 7):
        result[f"chi2_{n_jets}_jets_events_per_s"] = rate(args.events, n_jets)
    for n_jets in (6, 7):
        result.update(klfitter_speed(args.fit_events, args.minuit_events, n_jets))
    result["finished"] = now()
    report("baselines", result)


if __name__ == "__main__":
    main()
