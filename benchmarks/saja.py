"""SAJA speed and memory, written to benchmarks/results/saja_<device>.json.

    python -m benchmarks.saja [--device auto|cpu|cuda]

Synthetic inputs (the network's cost does not depend on the values). Figures:
  inference_events_per_s_batch_{1,64,1000}   10 jets per event
  latency_ms_batch1_njets_{6..12}            one event, N jets
  latency_njets_12_over_6                    flatness of the latency in N_jets (goal: close to 1)
  train_events_per_s_fp32 / _bf16            the project's training loop (analysis.core.training.train),
                                             batch 512, 10 jets; bf16 autocast only on a GPU
  peak_memory_mb_batch1000_njets12           GPU: torch.cuda.max_memory_allocated during inference
Model sizes: the paper's Table 1 (SAJA without jet shape: d_k 16, 10 heads, d_FFN 1024, 6 blocks).
"""
from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch

from analysis.core.training import TrainingSettings, pick_device, train
from analysis.methods.saja import Saja, SajaHyperparameters, saja_loss

PAPER = {"d_k": 16, "heads": 10, "d_ffn": 1024, "blocks": 6, "dropout": 0.1}
FEATURES = ("pt", "eta", "phi", "pt_ht", "btag")


def synthetic(n_events: int, n_jets: int, device: torch.device, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.full((n_events, n_jets), 4, dtype=torch.int64)
    for slot, cls in enumerate((0, 1, 1, 2, 3, 3)):
        labels[:, slot] = cls
    labels = labels[:, torch.randperm(n_jets, generator=g)]
    return {"x": torch.rand(n_events, n_jets, len(FEATURES), generator=g).to(device),
            "mask": torch.ones(n_events, n_jets, dtype=torch.bool, device=device), "labels": labels.to(device)}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


@torch.no_grad()
def seconds_per_call(model, x, mask, device, repeats: int) -> float:
    for _ in range(3):
        model(x, mask)
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        model(x, mask)
    sync(device)
    return (time.perf_counter() - start) / repeats


def training_rate(device: torch.device, mixed_precision: bool) -> float:
    torch.manual_seed(0)
    model = Saja(SajaHyperparameters(features=FEATURES, **PAPER))
    data = synthetic(8192, 10, torch.device("cpu"), seed=1)
    settings = TrainingSettings(batch_size=512, max_epochs=3, mixed_precision=mixed_precision,
                                device=device.type, progress=False)

    def loss_fn(m, batch):
        return saja_loss(m(batch["x"], batch["mask"]), batch["labels"], batch["mask"])

    with tempfile.TemporaryDirectory() as tmp:
        history = train(model, loss_fn, data, synthetic(1024, 10, torch.device("cpu"), seed=2), settings, tmp)
    return max(h["train_events_per_s"] for h in history[1:])  # first epoch carries warm-up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--output", default=None, help="default: benchmarks/results/saja_<device>.json")
    args = parser.parse_args()
    device = pick_device(args.device)
    torch.manual_seed(0)
    model = Saja(SajaHyperparameters(features=FEATURES, **PAPER)).to(device).eval()
    result = {"benchmark": "saja", "device": device.type,
              "device_name": torch.cuda.get_device_name() if device.type == "cuda" else platform.processor(),
              "torch": torch.__version__, "threads": torch.get_num_threads(), "hyperparameters": PAPER,
              "parameters": sum(p.numel() for p in model.parameters())}
    for batch in (1, 64, 1000):
        data = synthetic(batch, 10, device)
        seconds = seconds_per_call(model, data["x"], data["mask"], device, repeats=20 if batch < 1000 else 5)
        result[f"inference_events_per_s_batch_{batch}"] = batch / seconds
    for n_jets in range(6, 13):
        data = synthetic(1, n_jets, device)
        result[f"latency_ms_batch1_njets_{n_jets}"] = 1e3 * seconds_per_call(model, data["x"], data["mask"], device, 50)
    result["latency_njets_12_over_6"] = result["latency_ms_batch1_njets_12"] / result["latency_ms_batch1_njets_6"]
    if device.type == "cuda":
        data = synthetic(1000, 12, device)
        torch.cuda.reset_peak_memory_stats()
        with torch.no_grad():
            model(data["x"], data["mask"])
        result["peak_memory_mb_batch1000_njets12"] = torch.cuda.max_memory_allocated() / 2**20
    result["train_events_per_s_fp32"] = training_rate(device, mixed_precision=False)
    if device.type == "cuda":
        result["train_events_per_s_bf16"] = training_rate(device, mixed_precision=True)
        result["train_bf16_over_fp32_speedup"] = result["train_events_per_s_bf16"] / result["train_events_per_s_fp32"]
    output = Path(args.output or Path(__file__).parent / "results" / f"saja_{device.type}.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    import json

    output.write_text(json.dumps(result, indent=2) + "\n")
    for key, value in result.items():
        print(f"{key:40s} {value}")


if __name__ == "__main__":
    main()
