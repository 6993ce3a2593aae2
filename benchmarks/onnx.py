"""ONNX Runtime against torch for the exported networks, decoding included, on the CPU; written to
benchmarks/results/onnx.json.

    python -m benchmarks.onnx [--config config/config.yaml] [--models saja spanet] [--threads 1]

Each model is built from the config's hyperparameters with its input normalisation fitted on
synthetic jets (speed does not depend on the trained values; the decoding's cost does not depend
on the probabilities either), exported with analysis.methods.export, and both runtimes are timed
on the same graph: raw jets in, jet index per parton slot, validity, score and probabilities out.
Figures per model:
  torch_/onnx_events_per_s_batch_{1,64,1000}   10 jets per event
  torch_/onnx_latency_ms_batch1_njets_{6..16}  one event of N jets
  onnx_over_torch_batch_{1,64,1000}            speed-up (goal: >= 2 at batch 1, >= 1 at 1000)
Both runtimes on `--threads` threads (1: what one core of a 2-core job gets).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
import torch

from analysis import config as configlib
from analysis.methods import networks
from analysis.methods.export import Decoded, export
from benchmarks._common import machine, report

BATCHES = (1, 64, 1000)
N_JETS = (6, 8, 10, 12, 14, 16)


def synthetic_jets(columns: tuple[str, ...], n_events: int, n_jets: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Raw jet columns of plausible jets (pT 30-300 GeV, abs(eta) < 2.4, mass 2-30 GeV, b-tag
    bits); columns without a rule here (jet shapes) uniform in [0, 1]."""
    rng = np.random.default_rng(seed)
    size = (n_events, n_jets)
    ranges = {"pt": (30, 300), "eta": (-2.4, 2.4), "phi": (-np.pi, np.pi), "mass": (2, 30)}
    x = np.stack([rng.integers(0, 2, size) if name == "btag" else rng.uniform(*ranges.get(name, (0, 1)), size)
                  for name in columns], axis=-1).astype(np.float32)
    return x, np.ones(size, dtype=bool)


def seconds_per_call(call, repeats: int) -> float:
    call()
    start = time.perf_counter()
    for _ in range(repeats):
        call()
    return (time.perf_counter() - start) / repeats


def measure(name: str, architecture: str, hyperparameters: dict, threads: int) -> dict:
    torch.manual_seed(0)
    model = networks.build(architecture, hyperparameters).eval()
    x, mask = synthetic_jets(model.inputs.columns, 2000, 12)
    model.inputs.fit(torch.from_numpy(x), torch.from_numpy(mask))
    graph = Decoded(model, architecture)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        export(model, architecture, path)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = threads
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        def timed(n_events: int, n_jets: int) -> tuple[float, float]:
            x, mask = synthetic_jets(model.inputs.columns, n_events, n_jets, seed=n_jets)
            repeats = max(3, 2000 // n_events)
            with torch.no_grad():
                ours = seconds_per_call(lambda: graph(torch.from_numpy(x), torch.from_numpy(mask)), repeats)
            theirs = seconds_per_call(lambda: session.run(None, {"x": x, "mask": mask}), repeats)
            return ours, theirs

        result = {"architecture": architecture, "hyperparameters": hyperparameters}
        for batch in BATCHES:
            ours, theirs = timed(batch, 10)
            result[f"torch_events_per_s_batch_{batch}"] = batch / ours
            result[f"onnx_events_per_s_batch_{batch}"] = batch / theirs
            result[f"onnx_over_torch_batch_{batch}"] = ours / theirs
        for n_jets in N_JETS:
            ours, theirs = timed(1, n_jets)
            result[f"torch_latency_ms_batch1_njets_{n_jets}"] = 1e3 * ours
            result[f"onnx_latency_ms_batch1_njets_{n_jets}"] = 1e3 * theirs
    print(name, {k: round(v, 2) for k, v in result.items() if isinstance(v, float) and "over" in k})
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="config/config.yaml", help="the config whose models are built")
    parser.add_argument("--models", nargs="+", default=["saja", "spanet"], help="model names of that config")
    parser.add_argument("--threads", type=int, default=1, help="threads of torch and of ONNX Runtime")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = configlib.load(args.config)
    models = {}
    for name in args.models:
        spec = cfg.models[name]
        models[name] = measure(name, spec.architecture, {"features": list(spec.features), **spec.hyperparameters},
                               args.threads)
    report("onnx", {"config": args.config, "threads": args.threads, "onnxruntime": onnxruntime.__version__,
                    "torch": torch.__version__, "models": models, "machine": machine()})


if __name__ == "__main__":
    main()
