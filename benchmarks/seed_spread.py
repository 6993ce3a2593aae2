"""How much a network's result depends on its training seed: the config's network trained again
with other seeds on a finished run's training and validation sets, each measured like the run's
own model on the fully matched nominal ttbar test events.

    .venv/bin/python -m benchmarks.seed_spread --model saja --seeds 1 2 [--config config/config.yaml]

The run's own model (results/<tag>/models/<model>, trained with the config's seed) is measured
beside them. Each other seed trains in results/<tag>/seed_spread/<model>/seed<N>/, as the rule
`train` does (one thread here; a finished training there is reused, not repeated). Writes
benchmarks/results/seed_spread_<model>.json: per seed, the best epoch, its validation accuracy
and the correct fraction on the test events (68 % Clopper-Pearson interval). Not part of CI: each
seed is a full training (about 10 minutes for the default SAJA on one core).
"""
from __future__ import annotations

import argparse
import sys

import torch

from analysis import assignments, paths
from analysis import config as configlib
from analysis.core.training import load_checkpoint
from analysis.evaluation.metrics import fraction
from analysis.methods.networks import load_inputs, load_model, predict
from analysis.stages.train import fit_network
from benchmarks._common import ROOT, machine, report


def test_accuracy(model_path, test_path) -> dict:
    """Correct fraction of the model's assignments on the fully matched events of `test_path`."""
    model, saved = load_model(model_path)
    data = load_inputs(test_path, model)
    full = (data["targets"] >= 0).all(axis=1)
    slots, valid, _, _ = predict(model, saved["architecture"], data["x"][full], data["mask"][full],
                                 data["jet_pt"][full])
    right = valid & assignments.correct(slots, data["targets"][full])
    value, low, high = fraction(right)
    return {"correct": value, "low": low, "high": high, "events": int(full.sum())}


def best_epoch(model_dir) -> dict:
    saved = load_checkpoint(model_dir / "last.pt")
    history = saved["state"]["history"]
    best = saved["state"]["best_epoch"]
    return {"best_epoch": best, "epochs": len(history), "val_accuracy": history[best - 1].get("val_accuracy")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="config/config.yaml", help="the run's config file")
    parser.add_argument("--model", required=True, help="a network of the config (models.<name>)")
    parser.add_argument("--seeds", type=int, nargs="+", required=True, help="the other training seeds")
    args = parser.parse_args()
    cfg = configlib.load(args.config)
    if args.model not in cfg.models:
        sys.exit(f"{args.model!r} is not a network of {args.config}; its networks: {list(cfg.models)}")
    train, val, test = (ROOT / paths.dataset_file(cfg.tag, name) for name in ("train", "val", "test_nominal"))
    missing = [str(p) for p in (train, val, test) if not p.exists()]
    if missing:
        sys.exit(f"{', '.join(missing)} missing: run the workflow first (make run)")
    torch.set_num_threads(1)
    runs = []
    own = ROOT / paths.results_dir(cfg.tag) / "models" / args.model
    if (own / "model.pt").exists():
        runs.append({"seed": cfg.seed, "config_seed": True, **best_epoch(own), **test_accuracy(own / "model.pt", test)})
    for seed in args.seeds:
        out = ROOT / paths.results_dir(cfg.tag) / "seed_spread" / args.model / f"seed{seed}"
        fit_network(cfg, args.model, train, val, out, seed)
        runs.append({"seed": seed, "config_seed": False, **best_epoch(out), **test_accuracy(out / "model.pt", test)})
        print(runs[-1], flush=True)
    correct = [r["correct"] for r in runs]
    report(f"seed_spread_{args.model}", {
        "benchmark": "seed_spread", "config": args.config, "tag": cfg.tag, "model": args.model, "runs": runs,
        "correct_min": min(correct), "correct_max": max(correct), "correct_mean": sum(correct) / len(correct),
        "machine": machine(),
    })


if __name__ == "__main__":
    main()
