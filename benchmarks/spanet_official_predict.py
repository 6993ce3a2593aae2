"""Run inside the official SPANet environment (.venv-spanet) by benchmarks/spanet_official.py: the
best checkpoint of a training (by SPANet's own validation accuracy, as its ModelCheckpoint
recorded it) predicts a test file, written in SPANet's prediction layout.

    .venv-spanet/bin/python benchmarks/spanet_official_predict.py LOG_DIR TEST_H5 OUTPUT_H5

`spanet.predict` itself would load the last file matching `checkpoints/epoch*` in name order,
which is not the best epoch (nor the latest once epochs reach two digits), hence this script.
"""
import json
import sys

import torch
from spanet.evaluation import evaluate_on_test_dataset, load_model
from spanet.predict import create_hdf5_output


def best_checkpoint(log_dir: str) -> tuple[str, int]:
    """(path, epoch) of the best checkpoint that ModelCheckpoint kept."""
    last = torch.load(f"{log_dir}/checkpoints/last.ckpt", map_location="cpu")
    state = next(v for k, v in last["callbacks"].items() if k.startswith("ModelCheckpoint"))
    best = torch.load(state["best_model_path"], map_location="cpu")
    return state["best_model_path"], int(best["epoch"]) + 1


def main(log_dir: str, test_file: str, output_file: str) -> None:
    checkpoint, epoch = best_checkpoint(log_dir)
    model = load_model(log_dir, test_file, checkpoint=checkpoint)
    create_hdf5_output(output_file, model.testing_dataset, evaluate_on_test_dataset(model))
    print(json.dumps({"checkpoint": checkpoint, "best_epoch": epoch}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
